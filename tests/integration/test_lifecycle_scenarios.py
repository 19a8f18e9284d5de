"""Phase 1/2 scenarios of spec §11.1 against a real relay, real keys and decrypting solvers.

The daemon's steps run in the test's thread through the `driver` (as a worker runs them);
end-to-end paths through Redis and worker processes are in test_pipeline.py and test_race.py.
"""

import uuid

import pytest
from nostr_sdk import Keys

from serbero import clock
from serbero.db.models import AuditEvent, Dispute, Notification, Outbox, Transition
from serbero.disputes.events import STATUS_STAGE
from tests.conftest import Driver

D1 = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def notice_format():
    """These scenarios pin the original's NIP-17 texts byte for byte; the Mostro v2 form of the
    same notices is tested end to end in tests/channels/."""
    return "nip17-original"


def states(dispute_id=D1):
    return [(t.from_state, t.to_state) for t in
            Transition.select().where(Transition.dispute == dispute_id).order_by(Transition.id)]


def texts(nostr_loop, inbox, count, containing, timeout=10):
    return nostr_loop.run(inbox.wait_for(count, containing, timeout), timeout + 5)


def settle(nostr_loop, seconds=0.3):
    """Give the relay time to deliver anything that should NOT arrive."""
    import asyncio

    nostr_loop.run(asyncio.sleep(seconds), seconds + 5)


def test_detection_notifies_each_solver_with_the_dispute_facts(nostr_loop, mostro, driver,
                                                               solver_ana, solver_bo):
    # TST-P1-DET
    event = mostro.revision(D1, "initiated", initiator="buyer")
    assert driver.ingest(event).outcome == "detected"
    for inbox in (solver_ana, solver_bo):
        [text] = texts(nostr_loop, inbox, 1, D1)
        assert text.splitlines() == [
            "New Mostro dispute requires attention.", f"dispute_id: {D1}", "initiator: buyer",
            f"event_timestamp: {event.created_at().as_secs()}", "status: initiated"]
        assert inbox.messages[0].sender == driver.rt.signer.public_key().to_hex()


def test_the_same_event_twice_and_after_a_restart_gives_one_dm(nostr_loop, mostro, driver,
                                                               make_runtime, solver_ana,
                                                               solver_bo):
    # TST-P1-DUP: a replay, and a replay after a restart on the same database
    event = mostro.revision(D1, "initiated")
    assert driver.ingest(event).outcome == "detected"
    assert driver.ingest(event).outcome == "duplicate_event"
    driver.rt.relay.close()
    restarted = Driver(make_runtime(solvers=[solver_ana, solver_bo]))
    assert restarted.ingest(event).outcome == "duplicate_event"
    # a second `initiated` revision of the same dispute is also a no-op (DET-8)
    assert restarted.ingest(mostro.revision(D1, "initiated")).outcome == "duplicate_dispute"
    texts(nostr_loop, solver_ana, 1, D1)
    settle(nostr_loop)
    assert len(solver_ana.texts(D1)) == 1 and len(solver_bo.texts(D1)) == 1
    assert Dispute.select().count() == 1
    assert Notification.select().count() == 2


def test_an_unparseable_solver_key_fails_alone(nostr_loop, mostro, make_runtime, solver_ana):
    # TST-P1-BADPK
    driver = Driver(make_runtime(solvers=[solver_ana, "npub1thisisnotakey"]))
    driver.ingest(mostro.revision(D1, "initiated"))
    texts(nostr_loop, solver_ana, 1, D1)
    rows = {n.solver_pubkey: n for n in Notification.select()}
    assert rows[solver_ana.pubkey].status == "sent"
    bad = rows["npub1thisisnotakey"]
    assert bad.status == "failed" and bad.error_message.startswith("invalid pubkey")
    assert Dispute.get_by_id(D1).lifecycle_state == "notified"


def test_without_solvers_the_dispute_is_kept_and_the_silence_explained(mostro, make_runtime):
    # TST-P1-NOSOLVERS
    driver = Driver(make_runtime(solvers=[]))
    driver.ingest(mostro.revision(D1, "initiated"))
    assert Dispute.get_by_id(D1).lifecycle_state == "new"
    assert Notification.select().count() == 0
    [why] = AuditEvent.select()
    assert why.kind == "notification_skipped" and why.payload["reason"] == "no_valid_solvers"


def test_with_no_valid_solver_the_hourly_retry_explains_the_silence_once(mostro, make_runtime):
    # issue 10: the unnotified retry wrote two audit rows per dispute per hour, forever
    driver = Driver(make_runtime(solvers=["npub1thisisnotakey"]))
    now = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=now)
    explained = [(e.kind, e.payload.get("reason")) for e in AuditEvent.select()]
    assert explained == [("notification_skipped", "no_valid_solvers")]
    for hour in range(1, 6):
        assert driver.tick("unnotified", now + hour * 3600) == []
    assert [(e.kind, e.payload.get("reason")) for e in AuditEvent.select()] == explained
    # and a solver added to the configuration later is still told
    driver.rt.relay.close()
    healed = Driver(make_runtime(solvers=["npub1thisisnotakey", mostro.pubkey]))
    assert len(healed.tick("unnotified", now + 6 * 3600 + 1)) == 1


def test_lifecycle_chain_new_notified_taken_resolved(nostr_loop, mostro, driver, solver_ana,
                                                     solver_bo):
    # TST-P2-LC, and the resolution notice Serbero adds
    driver.ingest(mostro.revision(D1, "initiated"))
    driver.ingest(mostro.revision(D1, "in-progress", solver=solver_bo.pubkey))
    driver.ingest(mostro.revision(D1, "settled"))
    assert states() == [(None, "new"), ("new", "notified"), ("notified", "taken"),
                        ("taken", "resolved")]
    dispute = Dispute.get_by_id(D1)
    assert (dispute.lifecycle_state, dispute.dispute_status) == ("resolved", "settled")
    for inbox in (solver_ana, solver_bo):
        [done] = texts(nostr_loop, inbox, 1, "has been resolved")
        assert "status: settled" in done


def test_assignment_with_p_names_the_solver_and_is_sent_once(nostr_loop, mostro, driver,
                                                             solver_ana, solver_bo):
    # TST-P2-ASSIGN
    driver.ingest(mostro.revision(D1, "initiated"))
    take = mostro.revision(D1, "in-progress", solver=solver_ana.pubkey)
    assert driver.ingest(take).outcome == "taken"
    assert driver.ingest(take).outcome == "duplicate_event"
    for inbox in (solver_ana, solver_bo):
        [text] = texts(nostr_loop, inbox, 1, "has been taken")
        assert f"assigned_solver: {solver_ana.pubkey}" in text
    settle(nostr_loop)
    assert len(solver_ana.messages) == 2 and len(solver_bo.messages) == 2
    assert Dispute.get_by_id(D1).assigned_solver == solver_ana.pubkey
    assert Notification.select().where(Notification.notif_type == "assignment").count() == 2


def test_assignment_without_p_says_unknown(nostr_loop, mostro, driver, solver_ana):
    driver.ingest(mostro.revision(D1, "initiated"))
    driver.ingest(mostro.revision(D1, "in-progress"))
    [text] = texts(nostr_loop, solver_ana, 1, "has been taken")
    assert "assigned_solver: unknown" in text
    assert Dispute.get_by_id(D1).assigned_solver is None


def test_a_takeover_by_another_solver_is_announced(nostr_loop, mostro, driver, solver_ana,
                                                   solver_bo):
    # Mostro tells the parties of a takeover but not the previous solver (mostro#302)
    driver.ingest(mostro.revision(D1, "initiated"))
    driver.ingest(mostro.revision(D1, "in-progress", solver=solver_bo.pubkey))
    assert driver.ingest(mostro.revision(D1, "in-progress", solver=solver_ana.pubkey)).outcome \
        == "reassigned"
    [_, second] = texts(nostr_loop, solver_bo, 2, "has been taken")
    assert f"assigned_solver: {solver_ana.pubkey}" in second
    assert AuditEvent.get(AuditEvent.kind == "assignment_changed").payload["solver"] == \
        solver_ana.pubkey


def test_a_retake_without_p_is_announced_once_per_revision(nostr_loop, mostro, driver,
                                                          solver_ana):
    # Current mostrod names no solver: a newer in-progress revision is all there is to go on
    driver.ingest(mostro.revision(D1, "initiated"))
    driver.ingest(mostro.revision(D1, "in-progress"))
    retake = mostro.revision(D1, "in-progress")
    assert driver.ingest(retake).outcome == "reassigned"
    assert driver.ingest(retake).outcome == "duplicate_event"
    texts(nostr_loop, solver_ana, 2, "has been taken")
    settle(nostr_loop)
    assert len(solver_ana.texts("has been taken")) == 2


def test_the_first_take_of_an_escalated_dispute_is_announced_as_a_take(nostr_loop, mostro,
                                                                       driver, solver_ana):
    # issue 10, defect 3: it was announced as a re-take, `lifecycle_state: escalated`
    from serbero.escalation import manual

    now = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=now)
    manual.escalate(D1, settings=driver.rt.settings, operator="olga", now=now + 1)
    driver.ingest(mostro.revision(D1, "in-progress"), now=now + 2)
    [taken] = texts(nostr_loop, solver_ana, 1, "has been taken")
    assert taken.endswith("assigned_solver: unknown\nlifecycle_state: taken")
    assert states()[-2:] == [("notified", "escalated"), ("escalated", "taken")]
    assert not AuditEvent.select().where(AuditEvent.kind == "assignment_changed").exists()
    # a dispute taken, then escalated, then taken again is a re-take, and stays escalated
    D2 = str(uuid.uuid4())
    driver.ingest(mostro.revision(D2, "initiated"), now=now)
    driver.ingest(mostro.revision(D2, "in-progress"), now=now + 1)
    manual.escalate(D2, settings=driver.rt.settings, operator="olga", now=now + 2)
    driver.ingest(mostro.revision(D2, "in-progress"), now=now + 3)
    assert Dispute.get_by_id(D2).lifecycle_state == "escalated"
    assert AuditEvent.get(AuditEvent.kind == "assignment_changed").dispute_id == D2


def test_the_same_solver_retaking_is_not_news(mostro, driver, solver_bo):
    driver.ingest(mostro.revision(D1, "initiated"))
    driver.ingest(mostro.revision(D1, "in-progress", solver=solver_bo.pubkey))
    again = mostro.revision(D1, "in-progress", solver=solver_bo.pubkey)
    assert driver.ingest(again).outcome == "already_taken"


def test_an_older_revision_changes_nothing(mostro, driver):
    driver.ingest(mostro.revision(D1, "initiated"))
    take = mostro.revision(D1, "in-progress")
    settled = mostro.revision(D1, "settled")
    driver.ingest(settled)
    assert driver.ingest(take).outcome == "stale_revision"
    dispute = Dispute.get_by_id(D1)
    assert (dispute.lifecycle_state, dispute.dispute_status) == ("resolved", "settled")
    assert dispute.status_stage == STATUS_STAGE["settled"]


def test_a_dispute_first_seen_taken_is_recorded_and_announced(nostr_loop, mostro, driver,
                                                              solver_ana):
    # Serbero was down while it opened; relays only keep the latest revision
    driver.ingest(mostro.revision(D1, "in-progress", solver=solver_ana.pubkey))
    assert states() == [(None, "new"), ("new", "taken")]
    texts(nostr_loop, solver_ana, 1, "has been taken")


def test_a_dispute_first_seen_closed_is_recorded_quietly(nostr_loop, mostro, driver, solver_ana):
    driver.ingest(mostro.revision(D1, "released"))
    assert Dispute.get_by_id(D1).lifecycle_state == "resolved"
    assert Outbox.select().count() == 0


def test_unattended_disputes_are_reminded_on_schedule(nostr_loop, mostro, make_runtime,
                                                      solver_ana):
    # TST-P2-RENOT, with GAP-9's cap: reminders every 10 s, at most two
    driver = Driver(make_runtime(solvers=[solver_ana], timeouts={
        "renotification_seconds": 10, "renotification_max_count": 2}))
    now = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=now)
    notified_at = Dispute.get_by_id(D1).last_notified_at
    assert driver.tick("renotify", now + 5) == []
    assert len(driver.tick("renotify", now + 11)) == 1
    assert driver.tick("renotify", now + 12) == []  # not due again yet
    assert len(driver.tick("renotify", now + 22)) == 1
    assert driver.tick("renotify", now + 1000) == []  # the cap
    reminders = texts(nostr_loop, solver_ana, 2, "still unattended")
    assert f"time_elapsed_seconds: {now + 11 - Dispute.get_by_id(D1).event_timestamp}" in \
        reminders[0]
    dispute = Dispute.get_by_id(D1)
    assert dispute.renotify_count == 2 and dispute.last_notified_at > notified_at
    assert AuditEvent.get(AuditEvent.kind == "renotification_cap_reached")
    assert Notification.select().where(Notification.notif_type == "re-notification").count() == 2


def test_after_a_relay_outage_a_solver_gets_one_current_reminder_not_a_pile(
        nostr_loop, mostro, make_runtime, solver_ana, mocker):
    # issue 10, defect 2 (RENOT-4): rounds were counted when written, so an outage used up the
    # cap, and the relays' return delivered every stale reminder at once
    from serbero.errors import PublishError

    watchdog = Keys.generate().public_key().to_hex()  # an observer's copy is replaced with it
    driver = Driver(make_runtime(solvers=[solver_ana], observers=[watchdog], timeouts={
        "renotification_seconds": 10, "renotification_max_count": 3}))
    now = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=now)
    texts(nostr_loop, solver_ana, 1, "New Mostro dispute")
    real_publish = driver.rt.relay.publish_many
    refusals = iter([PublishError("blocked: maintenance", permanent=True)])

    def relays_down(events):
        return [next(refusals, PublishError("no relay connected", permanent=False))
                for _ in events]
    outage = mocker.patch.object(driver.rt.relay, "publish_many", side_effect=relays_down)
    # Given the relays refuse, then do not answer, for five reminder periods
    for t in (11, 22, 33, 44, 55):
        driver.tick("renotify", now + t)
        driver.tick("outbox", now + t)
    # Then no round was used up, and one reminder (the latest) is pending, with its copy
    assert Dispute.get_by_id(D1).renotify_count == 0
    pending = Outbox.select().where((Outbox.notice_type == "re-notification")
                                    & (Outbox.status == "pending"))
    assert sorted((row.purpose, row.created_at) for row in pending) == [
        ("observer_notice", now + 55), ("solver_dm", now + 55)]
    # When the relays are back
    outage.side_effect = real_publish
    driver.tick("renotify", now + 66)
    driver.tick("outbox", now + 400)
    # Then Ana receives one reminder, current as of its sending, and one round is counted
    [reminder] = texts(nostr_loop, solver_ana, 1, "still unattended")
    settle(nostr_loop)
    assert len([m for m in solver_ana.texts(D1) if "still unattended" in m]) == 1
    assert f"time_elapsed_seconds: {now + 66 - Dispute.get_by_id(D1).event_timestamp}" in \
        reminder
    dispute = Dispute.get_by_id(D1)
    assert (dispute.renotify_count, dispute.next_renotify_at) == (1, now + 76)


def test_no_reminder_once_taken(nostr_loop, mostro, make_runtime, solver_ana):
    # TST-P2-NORENOT-TAKEN
    driver = Driver(make_runtime(solvers=[solver_ana], timeouts={"renotification_seconds": 10}))
    now = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=now)
    driver.ingest(mostro.revision(D1, "in-progress"), now=now + 1)
    assert driver.tick("renotify", now + 60) == []
    texts(nostr_loop, solver_ana, 2, D1)
    settle(nostr_loop)
    assert len(solver_ana.messages) == 2
    assert Notification.select().where(Notification.notif_type == "re-notification").count() == 0


def test_a_reminder_written_before_a_take_is_not_sent_after_it(nostr_loop, mostro, make_runtime,
                                                              solver_ana):
    driver = Driver(make_runtime(solvers=[solver_ana], timeouts={"renotification_seconds": 10}))
    now = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=now)
    from serbero.disputes import reminders

    [row_id] = reminders.renotify_due(now + 11, driver.rt.settings, driver.rt.signer).outbox_ids
    driver.ingest(mostro.revision(D1, "in-progress"), now=now + 12)
    assert driver.publish([row_id], now + 13) == ["cancelled"]
    assert Notification.get(Notification.outbox == row_id).status == "cancelled"
    assert AuditEvent.get(AuditEvent.kind == "notification_cancelled").payload["reason"] == \
        "dispute is taken"


def test_all_initial_notices_failing_are_retried_until_one_lands(nostr_loop, mostro, relay,
                                                                 make_runtime, solver_ana):
    # GAP-3: the only relay Serbero knows is down, so every notice fails; later it is back
    dead = "ws://127.0.0.1:9"
    driver = Driver(make_runtime(solvers=[solver_ana], relays=[dead]))
    now = clock.now()
    result = driver.ingest(mostro.revision(D1, "initiated"), now=now)
    [row] = Outbox.select()
    assert (row.status, row.attempts) == ("pending", 1) and "no relay connected" in row.last_error
    assert Dispute.get_by_id(D1).lifecycle_state == "new"
    # the outbox tick leaves the row alone until its back-off expires...
    assert driver.tick("outbox", now + 1) == []
    # ...and after a day it is given up; the dispute-level retry then writes a fresh round
    driver.publish(result.outbox_ids, now + 86_400)
    assert Outbox.get_by_id(row.id).status == "failed"
    driver.rt.relay.close()
    healed = Driver(make_runtime(solvers=[solver_ana]))
    assert len(healed.tick("unnotified", now + 86_401)) == 1
    texts(nostr_loop, solver_ana, 1, "New Mostro dispute")
    assert Dispute.get_by_id(D1).lifecycle_state == "notified"
    assert AuditEvent.get(AuditEvent.kind == "initial_notification_retried").payload["round"] == 1


def test_a_transient_failure_is_republished_by_the_outbox_tick(nostr_loop, mostro, relay,
                                                               make_runtime, solver_ana,
                                                               mocker):
    driver = Driver(make_runtime(solvers=[solver_ana]))
    from serbero.errors import PublishError

    real_publish = driver.rt.relay.publish_many
    fault = mocker.patch.object(driver.rt.relay, "publish_many",
                                return_value=[PublishError("timeout", permanent=False)])
    now = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=now)
    [row] = Outbox.select()
    assert row.status == "pending" and row.next_attempt_at == now + 5
    fault.side_effect = real_publish
    assert driver.tick("outbox", now + 5) == [row.id]
    texts(nostr_loop, solver_ana, 1, D1)
    assert Outbox.get_by_id(row.id).status == "sent"
    # the very same signed event was published: one event id end to end
    assert solver_ana.messages[0].wrap_id == row.message_id


def test_a_permanent_refusal_marks_the_notice_failed(mostro, make_runtime, solver_ana, mocker):
    driver = Driver(make_runtime(solvers=[solver_ana]))
    from serbero.errors import PublishError

    mocker.patch.object(driver.rt.relay, "publish_many",
                        return_value=[PublishError("blocked: not welcome", permanent=True)])
    driver.ingest(mostro.revision(D1, "initiated"))
    [n] = Notification.select()
    assert n.status == "failed" and "blocked" in n.error_message
    assert Outbox.get().status == "failed"


def test_hostile_events_change_nothing(mostro, driver):
    from nostr_sdk import Keys

    from serbero.simulators.mostro_node import dispute_event

    before = [Dispute.select().count(), Outbox.select().count(), Notification.select().count()]
    for raw in [
        dispute_event(Keys.generate(), str(uuid.uuid4()), "initiated").as_json(),  # wrong author
        mostro.revision("not-a-uuid", "initiated").as_json(),
        mostro.revision(D1, "initiated").as_json().replace('"buyer"', '"baker"'),  # tampered
        "{" * 10_000,
    ]:
        assert driver.ingest(raw).outcome.startswith("rejected:")
    assert [Dispute.select().count(), Outbox.select().count(),
            Notification.select().count()] == before
