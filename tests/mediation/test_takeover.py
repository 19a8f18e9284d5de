"""Who holds the dispute (spec §4.2, §5.17, §11.6; GAP-21): Serbero's own take is announced as
`mediating`, never as "taken by unknown"; any later take is a person's, which supersedes the
session at once and tells both parties; a forged revision changes nothing; Mostro closing the
dispute ends the session, thanks both parties and reports to every solver, once."""

from nostr_sdk import Keys

from serbero.db.models import AuditEvent, Dispute, Notification
from serbero.disputes import notices
from serbero.escalation.models import EscalationHandoff
from serbero.mediation import catalog, sessions, subscriptions, timers
from serbero.simulators.model import classification
from serbero.wanted_subscriptions import WantedSubscription
from tests.mediation.harness import Party, opened

ASK = classification("ask_clarification", buyer="When did you pay?", seller="Did it arrive?",
                     confidence=0.88)


def test_serberos_own_take_is_announced_as_mediating_not_as_taken(med, scripts, ana, bo):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    med.run_due()
    buyer = Party("buyer", med.rt.settings.serbero_pubkey)
    seller = Party("seller", med.rt.settings.serbero_pubkey)
    # When the in-progress revision reaches Serbero before the reply (relays race), then both
    med.revision(dispute, "in-progress")
    med.took(dispute, buyer, seller, revision=False)
    # Then the dispute is Serbero's, and every solver reads `mediating`, nobody reads `taken`
    row = Dispute.get_by_id(dispute)
    assert (row.lifecycle_state, row.assigned_solver) == ("taken",
                                                          med.rt.settings.serbero_pubkey)
    assert med.session(dispute).own_revision_event_id == row.status_event_id
    assert med.subjects(ana) == med.subjects(bo) == ["new", "mediating"]
    assert "A solver can take over at any time" in med.solver(bo)[1]
    assert not Notification.select().where(Notification.notif_type == notices.ASSIGNMENT) \
        .exists()
    # and the listener follows both of its channels, by their signing keys
    session = med.session(dispute)
    wanted = WantedSubscription.get_by_id(subscriptions.name(session.session_id))
    assert session.buyer_sign_pubkey in wanted.filters_json
    assert session.seller_sign_pubkey in wanted.filters_json


def test_a_person_taking_over_stops_serbero_at_once_and_everyone_is_told(med, scripts, ana):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, seller = opened(med, dispute)
    med.chat(buyer, "I paid")
    session = med.session(dispute)
    # When a solver takes the dispute over in Mostro
    med.clock.advance(30)
    med.revision(dispute, "in-progress")
    # Then the session is superseded, its timers and channels dropped
    session = med.session(dispute)
    assert (session.state, session.end_reason) == (sessions.SUPERSEDED, "human_took_over")
    assert timers.pending(session.session_id) == {}
    assert not WantedSubscription.select().where(
        WantedSubscription.name == subscriptions.name(session.session_id)).exists()
    # and both parties are told a person took over; the solvers read a takeover, not Serbero
    told = catalog.texts("en")[catalog.HUMAN_TOOK_OVER]
    assert med.to(buyer)[-1] == told and med.to(seller)[-1] == told
    assert med.subjects(ana)[-1] == "taken"
    assert "taken over" in med.solver(ana)[-1]
    assert Dispute.get_by_id(dispute).assigned_solver is None
    # and the quiet period that was running evaluates nothing
    med.clock.advance(60)
    med.run_due()
    assert med.session(dispute).evaluations == 1


def test_a_forged_in_progress_from_another_author_changes_nothing(med, scripts, ana):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    opened(med, dispute)
    med.clock.advance(30)
    result = med.revision(dispute, "in-progress", keys=Keys.generate())
    assert result.outcome.startswith("rejected:")
    assert med.session(dispute).state == sessions.AWAITING
    assert med.subjects(ana) == ["new", "mediating"]


def test_mostro_closing_a_live_session_thanks_both_parties_and_reports_once(
        med, scripts, ana, bo):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, seller = opened(med, dispute)
    med.clock.advance(30)
    # When the parties settle it themselves, and the revision is replayed
    med.revision(dispute, "released")
    med.revision(dispute, "released")
    session = med.session(dispute)
    assert (session.state, session.end_reason) == (sessions.SUPERSEDED,
                                                   "dispute_resolved_externally")
    thanks = catalog.texts("en")[catalog.RESOLVED]
    assert med.to(buyer)[-1] == thanks and med.to(seller)[-1] == thanks
    for solver in (ana, bo):
        [report] = [t for t in med.solver(solver) if "mediation_resolution_report/v1" in t]
        assert report.split("\n")[0] == f"Dispute {dispute} \u00b7 mediation report: released"
        assert f"Session: {session.session_id}" in report
        assert "Classification: coordination_failure_resolvable (confidence 0.88)" in report
        assert "Outbound party messages: 2" in report
        assert "Final dispute status: released" in report
        assert "scripted rationale" not in report
    assert AuditEvent.select().where(AuditEvent.kind == "resolved_externally_reported") \
        .count() == 1


def test_closing_a_handed_off_dispute_closes_the_session_and_keeps_the_handoff(
        med, scripts, ana):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK, classification("ask_clarification", buyer="?", seller="?",
                                            flags=("conflicting_claims",)))
    buyer, seller = opened(med, dispute)
    med.chat(buyer, "paid")
    med.chat(seller, "not paid")
    med.clock.advance(20)
    med.run_due()
    med.chat(buyer, "here is the proof")  # waits for the next forwarding batch
    med.clock.advance(5)
    med.revision(dispute, "settled")
    assert med.session(dispute).state == sessions.CLOSED
    assert EscalationHandoff.select().count() == 1
    subjects = med.subjects(ana)
    # what the buyer wrote since the handoff went out first, then the report
    assert subjects[-2:] == ["new messages since handoff (1)", "mediation report: settled"]
    assert "Session" in med.solver(ana)[-1] and "escalation_recommended" in med.solver(ana)[-1]


def test_a_dispute_serbero_never_mediated_gets_no_report(med, ana):
    dispute = med.open_dispute()  # its start job never runs
    med.clock.advance(5)
    med.revision(dispute, "settled")
    assert not any("mediation_resolution_report" in t for t in med.solver(ana))
