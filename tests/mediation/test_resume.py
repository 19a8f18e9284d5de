"""Restart resume (RESUME-*, GAP-2, GAP-4): every live session continues on a fresh process
with nothing but the database — chat keys re-derived from the stored trade pubkeys, the
listener's subscriptions restored, lost timers fired by the tick — and a session pinned to a
prompt bundle the new process does not hold goes to a person through the handoff."""

import shutil

from serbero.db.models import AuditEvent
from serbero.escalation.models import EscalationHandoff
from serbero.escalation.package import parse
from serbero.mediation import sessions, subscriptions
from serbero.simulators.model import CLASSIFY, classification
from serbero.wanted_subscriptions import WantedSubscription
from tests.mediation.harness import opened
from tests.reasoning.conftest import PROMPTS_DIR

ASK = classification("ask_clarification", buyer="When did you pay?", seller="Did it arrive?")
AGAIN = classification("ask_clarification", buyer="From which bank?", seller="Which account?")


def test_after_a_restart_a_live_session_continues_from_the_database(
        make_mediation, scripts, model, backend):
    # Given a session whose parties answered, and whose quiet-period job is lost with the
    # process that held it (the embedded broker, or a flushed Redis)
    before = make_mediation()
    dispute = before.open_dispute()
    scripts.on(dispute, ASK, AGAIN)
    buyer, seller = opened(before, dispute)
    before.chat(buyer, "I paid")
    before.chat(seller, "nothing yet")
    session = before.session(dispute)
    WantedSubscription.delete().execute()  # and, say, its subscription row went missing too
    # When a new process starts on the same database and its tick runs
    after = make_mediation()
    after.clock.advance(30)
    after.tick()
    after.run_due()
    # Then the evaluation ran, and the next round went out on channels derived afresh
    assert len(model.calls(CLASSIFY)) == 2
    assert after.session(dispute).rounds_asked == 2
    assert after.to(buyer)[-1].endswith("From which bank?")
    assert after.to(seller)[-1].endswith("Which account?")
    assert WantedSubscription.get_by_id(subscriptions.name(session.session_id))


def test_a_changed_prompt_bundle_hands_the_old_sessions_to_a_person(
        make_mediation, scripts, tmp_path, ana, backend):
    # Given a session opened under the shipped bundle
    before = make_mediation()
    dispute = before.open_dispute()
    scripts.on(dispute, ASK)
    opened(before, dispute)
    pinned = before.session(dispute).policy_hash
    # When Serbero restarts with an edited bundle
    edited = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, edited)
    (edited / "phase3-mediation-style.md").write_text("A new style.\n", encoding="utf-8")
    after = make_mediation(prompts_dir=edited)
    after.tick()
    after.run_due()
    # Then the session goes to a person with policy_bundle_missing, through the handoff
    session = after.session(dispute)
    assert (session.state, session.end_reason) == (sessions.ESCALATED, "policy_bundle_missing")
    handoff = EscalationHandoff.get()
    package = parse(AuditEvent.get_by_id(handoff.handoff_event_id).payload_json)
    assert package.policy_hash == pinned and f"policy:{pinned}" in package.evidence_refs
    assert "handed off: policy_bundle_missing" in after.subjects(ana)
    # and new disputes are mediated under the new bundle
    fresh = after.open_dispute()
    scripts.on(fresh, ASK)
    after.run_due()
    assert after.session(fresh).policy_hash not in (pinned, "")


def test_a_node_that_stops_announcing_serberos_key_hands_live_sessions_over(med, scripts,
                                                                             clock):
    from serbero.mostro import info

    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    opened(med, dispute)
    # When the node's newer info event names another Serbero key (Serbero is no solver there)
    info.record(info.NodeInfo(node_pubkey=med.rt.settings.mostro_pubkey, event_id="3" * 64,
                              created_at=clock() + 1, protocol_version=2, pow=0,
                              pow_first_contact=0, mostro_version="0.19.2",
                              serbero_tag="cd" * 32), now=clock())
    med.tick()
    assert med.session(dispute).end_reason == "authorization_lost"
