"""Acknowledgements over a real relay with real keys, on SQLite and PostgreSQL: the solver's
reply (in either form) is recorded once, the other solvers are told once, reminders go to the
acknowledger alone on the slower schedule, and every bad reply is ignored with a reason."""

import uuid

import pytest
from nostr_sdk import EventBuilder, Keys, Kind, Tag, Timestamp

from serbero import clock
from serbero.acks.models import SolverAcknowledgement
from serbero.db.models import Dispute, Notification, Outbox, ProcessedInput
from serbero.mostro.models import TakeRequest
from tests.acks.conftest import AckDriver, settle

D1 = "11111111-2222-4333-8444-555555555555"
D2 = "22222222-2222-4333-8444-555555555555"


def detected(acks, mostro, nostr_loop, *inboxes, dispute_id=D1):
    acks.ingest(mostro.revision(dispute_id, "initiated"))
    for inbox in inboxes:
        nostr_loop.run(inbox.wait_for(1, dispute_id), 15)


@pytest.mark.parametrize("form", ["mostro-v2", "nip17"])
def test_an_ack_reply_is_recorded_and_the_other_solvers_are_told_once(
        form, nostr_loop, mostro, acks, solver_ana, solver_bo):
    detected(acks, mostro, nostr_loop, solver_ana, solver_bo)
    # When Ana answers the notice with `ack`, in either form
    handled = acks.reply(nostr_loop, solver_ana, " ACK\n", form=form, dispute_id=D1)
    # Then she is recorded as the first to acknowledge, once
    assert handled.outcome == "acknowledged"
    dispute = Dispute.get_by_id(D1)
    assert dispute.acknowledged_by == solver_ana.pubkey and dispute.acknowledged_at is not None
    [row] = SolverAcknowledgement.select()
    assert (row.solver_pubkey, row.scope, row.source) == (solver_ana.pubkey, "dispute", "reply")
    # And Bo hears who acknowledged, once; Ana does not hear about herself
    [told] = nostr_loop.run(solver_bo.wait_for(1, "acknowledged by"), 15)
    assert told.splitlines()[0].startswith(f"Dispute {D1} \u00b7 acknowledged by npub1")
    # A second `ack` from Ana, or the same event again, changes nothing and tells no one
    assert acks.reply(nostr_loop, solver_ana, "ack", form=form,
                      dispute_id=D1).outcome == "already_acknowledged"
    settle(nostr_loop)
    assert len(solver_bo.texts("acknowledged by")) == 1
    assert not solver_ana.texts("acknowledged by")


def test_the_acknowledger_alone_is_reminded_on_the_slower_schedule(
        nostr_loop, mostro, make_runtime, solver_ana, solver_bo):
    acks = AckDriver(make_runtime(solvers=[solver_ana, solver_bo],
                                  sections={"notifications": {"format": "mostro-v2",
                                                              "ack_reminder_seconds": 1800}}))
    detected(acks, mostro, nostr_loop, solver_ana, solver_bo)
    now = clock.now()
    acks.reply(nostr_loop, solver_bo, "ack", dispute_id=D1, now=now)
    assert Dispute.get_by_id(D1).next_renotify_at == now + 1800
    # Five minutes later, when everyone used to be reminded, nobody is
    assert acks.tick("renotify", now + 300) == []
    # Half an hour later only Bo is, and his next reminder is half an hour after that
    [row_id] = acks.tick("renotify", now + 1800)
    assert Outbox.get_by_id(row_id).recipient == solver_bo.pubkey
    nostr_loop.run(solver_bo.wait_for(1, "unattended"), 15)
    assert Dispute.get_by_id(D1).next_renotify_at == now + 3600
    settle(nostr_loop)
    assert not solver_ana.texts("unattended")


def test_a_take_naming_a_configured_solver_is_their_acknowledgement(
        nostr_loop, mostro, acks, solver_ana, solver_bo):
    detected(acks, mostro, nostr_loop, solver_ana)
    acks.ingest(mostro.revision(D1, "in-progress", solver=solver_bo.pubkey))
    dispute = Dispute.get_by_id(D1)
    assert dispute.acknowledged_by == solver_bo.pubkey
    [row] = SolverAcknowledgement.select()
    assert (row.source, row.scope) == ("take", "dispute")
    # the take's own notice says who has it; no separate "acknowledged by"
    nostr_loop.run(solver_ana.wait_for(1, "taken"), 15)
    settle(nostr_loop)
    assert not solver_ana.texts("acknowledged by")


def test_ack_with_a_prefix_picks_one_of_several_open_disputes_and_plain_ack_is_ambiguous(
        nostr_loop, mostro, acks, solver_ana, solver_bo):
    detected(acks, mostro, nostr_loop, solver_ana, dispute_id=D1)
    detected(acks, mostro, nostr_loop, solver_ana, dispute_id=D2)
    # A NIP-17 reply that names no dispute, with two open: refused as ambiguous
    raw = nip17_without_dispute(solver_ana, acks.rt.settings.serbero_pubkey, "ack")
    assert acks.apply(raw).outcome == "ignored:ambiguous"
    assert acks.reply(nostr_loop, solver_ana, "ack 2222", form="nip17").outcome == \
        "acknowledged"
    assert Dispute.get_by_id(D2).acknowledged_by == solver_ana.pubkey
    # With only D1 left unacknowledged by her, a plain `ack` means D1
    raw = nip17_without_dispute(solver_ana, acks.rt.settings.serbero_pubkey, "ack ")
    assert acks.apply(raw).outcome == "acknowledged"
    assert Dispute.get_by_id(D1).acknowledged_by == solver_ana.pubkey


def nip17_without_dispute(solver, to, text):
    from serbero.nostr.dm import solver_dm

    return solver_dm(solver.keys, to, text).as_json()


def test_a_reply_from_someone_who_is_not_a_solver_is_refused(nostr_loop, mostro, acks,
                                                             solver_ana, solver_bo):
    from serbero.simulators.solver_inbox import SolverInbox

    detected(acks, mostro, nostr_loop, solver_ana)
    stranger = nostr_loop.run(SolverInbox(name="stranger").connect(acks.rt.settings.relays), 10)
    try:
        assert acks.reply(nostr_loop, stranger, "ack", dispute_id=D1).outcome == \
            "rejected:not_a_solver"
        # as a gift wrap it is not claimed as a reply: the Mostro layer refuses it as before
        wrap = nostr_loop.run(stranger.reply(acks.rt.settings.serbero_pubkey, "ack",
                                             form="nip17", dispute_id=D1), 10)
        from serbero.mediation import daemon

        assert daemon.mostro_event(wrap.as_json(), acks.rt, clock.now()).outcome == \
            "rejected:wrong_sender"
    finally:
        nostr_loop.run(stranger.shutdown(), 10)
    assert Dispute.get_by_id(D1).acknowledged_at is None


def test_a_forged_ack_for_a_dispute_the_solver_never_heard_of_is_refused(
        nostr_loop, mostro, make_runtime, solver_ana, solver_bo, solver_cy):
    # Given a dispute told to Ana and Bo before Cy joined the configuration
    AckDriver(make_runtime(solvers=[solver_ana, solver_bo])).ingest(
        mostro.revision(D1, "initiated"))
    acks = AckDriver(make_runtime(solvers=[solver_ana, solver_bo, solver_cy]))
    # When Cy acknowledges it, by prefix or by naming it
    assert acks.reply(nostr_loop, solver_cy, f"ack {D1[:8]}").outcome == "ignored:not_told"
    assert acks.reply(nostr_loop, solver_cy, "ack", dispute_id=D1).outcome == "ignored:not_told"
    assert acks.reply(nostr_loop, solver_cy, "ack",
                      dispute_id=str(uuid.uuid4())).outcome == "ignored:not_told"
    assert acks.reply(nostr_loop, solver_cy, "ack").outcome == "ignored:no_open_dispute"
    # Then nothing is recorded
    assert SolverAcknowledgement.select().count() == 0


def test_an_ack_for_a_resolved_dispute_is_refused(nostr_loop, mostro, acks, solver_ana,
                                                  solver_bo):
    detected(acks, mostro, nostr_loop, solver_ana)
    acks.ingest(mostro.revision(D1, "settled"))
    assert acks.reply(nostr_loop, solver_ana, "ack", dispute_id=D1).outcome == \
        "ignored:dispute_closed"
    assert Dispute.get_by_id(D1).acknowledged_at is None


def test_huge_binary_and_command_like_replies_change_nothing(nostr_loop, mostro, acks,
                                                             solver_ana, solver_bo):
    detected(acks, mostro, nostr_loop, solver_ana)
    me = acks.rt.settings.serbero_pubkey
    # a long text (about the largest the relay takes), and replies that try to be commands
    for text, outcome in [("ack " + "f" * 40_000, "ignored:too_long"),
                          ("\x00\x01\xffack\x7f", "ignored:not_an_ack"),
                          ("admin-settle " + D1, "ignored:not_an_ack"),
                          ("ack; take " + D1, "ignored:not_an_ack")]:
        assert acks.reply(nostr_loop, solver_ana, text, dispute_id=D1).outcome == outcome
    # a 1 MB event is not read at all, nor one whose ciphertext is garbage
    huge = signed_kind14(solver_ana.keys, me, "A" * 1_000_000)
    assert acks.apply(huge).outcome == "rejected:oversized"
    assert acks.apply(signed_kind14(solver_ana.keys, me, "\x00\x01binary")).outcome == \
        "rejected:decrypt_failed"
    # an `ack` written two hours ago and read back only now (a replay) is not one
    from serbero.messages.formats import mostro_v2_event

    old = mostro_v2_event("ack", dispute_id=D1, signer=solver_ana.keys, recipient=me,
                          now=clock.now() - 7200)
    assert acks.apply(old.as_json()).outcome == "rejected:stale_reply"
    assert Dispute.get_by_id(D1).acknowledged_at is None
    assert TakeRequest.select().count() == 0
    assert not Outbox.select().where(Outbox.purpose == "mostro_take").exists()
    assert ProcessedInput.select().where(ProcessedInput.kind == "solver_reply").count() == 4


def signed_kind14(keys, to, content):
    return (EventBuilder(Kind(14), content).tags([Tag.parse(["p", to])])
            .custom_created_at(Timestamp.from_secs(clock.now()))
            .finalize_unsigned(keys.public_key()).sign(keys).as_json())


def test_reminders_to_others_still_waiting_are_cancelled_by_the_ack(nostr_loop, mostro, acks,
                                                                    solver_ana, solver_bo):
    detected(acks, mostro, nostr_loop, solver_ana, solver_bo)
    now = clock.now()
    # a reminder round is written but not yet published when Ana acknowledges
    from serbero import ticks

    ticks.run("renotify", acks.rt, now + 400)
    assert acks.reply(nostr_loop, solver_ana, "ack", dispute_id=D1,
                      now=now + 401).outcome == "acknowledged"
    statuses = {n.solver_pubkey: n.status for n in Notification.select()
                .where(Notification.notif_type == "re-notification")}
    assert statuses == {solver_ana.pubkey: "pending", solver_bo.pubkey: "cancelled"}
    assert Keys  # keys are real throughout


def test_an_ack_of_a_dispute_handed_to_a_person_is_a_handoff_acknowledgement(
        nostr_loop, mostro, acks, solver_ana, solver_bo):
    from serbero.escalation import dispatch, manual

    detected(acks, mostro, nostr_loop, solver_ana, solver_bo)
    now = clock.now()
    escalation = manual.escalate(D1, settings=acks.rt.settings, operator="op", now=now)
    sent = dispatch.dispatch_one(escalation.prepared.handoff_id, settings=acks.rt.settings,
                                 signer=acks.rt.signer, now=now)
    acks.publish(sent.outbox_ids, now)
    nostr_loop.run(solver_ana.wait_for(1, "handed off"), 15)
    assert Dispute.get_by_id(D1).lifecycle_state == "escalated"
    assert acks.reply(nostr_loop, solver_ana, "ack", dispute_id=D1).outcome == "acknowledged"
    [row] = SolverAcknowledgement.select()
    assert (row.solver_pubkey, row.scope) == (solver_ana.pubkey, "handoff")
    # Bo, who only had the new-dispute notice, hears once who has it
    nostr_loop.run(solver_bo.wait_for(1, "acknowledged by"), 15)
