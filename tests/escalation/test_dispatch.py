"""The dispatcher (DISP-3…DISP-13, the TST-P4-* scenarios), driven cycle by cycle as the ticker
would, with the outbox publishing through a stand-in for the relays."""

import json

import pytest

from serbero import outbox
from serbero.db.models import AuditEvent, Dispute, Notification, Outbox
from serbero.escalation import dispatch, handoff, package, routing, scan
from serbero.escalation.models import EscalationDispatch, EscalationHandoff
from tests.conftest import via
from tests.escalation.conftest import NOW


@pytest.fixture
def run(backend, db, signer, relays):
    """`run(settings, now)`: one dispatcher cycle, then publish what it wrote; the outbox ids.
    Every test that uses it runs on SQLite and on PostgreSQL."""
    def cycle(settings, now=NOW, publish=True):
        ids = list(scan.dispatch_due(now, settings=settings, signer=signer).outbox_ids)
        if publish:
            for row_id in ids:
                outbox.publish(row_id, channels=via(relays), settings=settings, now=now)
        return ids
    return cycle


def events(kind):
    return [e.payload for e in AuditEvent.select().where(AuditEvent.kind == kind)
            .order_by(AuditEvent.id)]


def status(handoff_id):
    return EscalationHandoff.get_by_id(handoff_id).status


def body_of(handoff_id):
    return package.dm_body(package.parse(AuditEvent.get_by_id(handoff_id).payload_json),
                           dispatch.manual_request(EscalationHandoff.get_by_id(handoff_id)))


# ------------------------------------------------------------------------------- routing


def test_the_assigned_write_solver_decrypts_the_exact_handoff(make_dispute, esc_settings, run,
                                                               ana, bo, signer):
    # TST-P4-TARGET: assigned = a configured write solver
    d = make_dispute(state="taken", assigned_solver=bo.pubkey)
    h = handoff.prepare(d.dispute_id, session_id="sess-1", trigger="round_limit",
                        now=NOW).handoff_id
    [row_id] = run(esc_settings(solvers=[ana.write(), bo.write()]))
    sender, text = bo.open(Outbox.get_by_id(row_id).body)
    assert sender == signer.public_key().to_hex()
    assert text == body_of(h)
    assert text.startswith(f"escalation_handoff/v1\nDispute: {d.dispute_id}\nSession: sess-1\n"
                           "Trigger: round_limit\n")
    assert text.split("\n")[-1] == AuditEvent.get_by_id(h).payload_json
    [row] = EscalationDispatch.select()
    assert (row.target_solver, row.status, row.fallback_broadcast, row.session_id) == \
        (bo.pubkey, "dispatched", 0, "sess-1")
    # TST-P4-PAIR: exactly one audit row, sharing the dispatch row's values
    [paired] = events("escalation_dispatched")
    assert (paired["dispatch_id"], paired["dispute_id"], paired["handoff_event_id"],
            paired["target_solver"], paired["status"], paired["fallback_broadcast"]) == \
        (row.dispatch_id, row.dispute_id, h, row.target_solver, row.status, False)
    assert status(h) == "dispatched"
    assert [n.status for n in Notification.select()] == ["sent"]
    assert Notification.get().notif_type == "mediation_escalation_recommended"


def test_without_an_assigned_write_solver_every_write_solver_receives_it(make_dispute, run,
                                                                         esc_settings, ana, bo):
    # TST-P4-BCAST
    d = make_dispute(assigned_solver="f" * 64)
    h = handoff.prepare(d.dispute_id, trigger="manual", now=NOW).handoff_id
    ids = run(esc_settings(solvers=[ana.write(), bo.write()]))
    assert [Outbox.get_by_id(i).recipient for i in ids] == [ana.pubkey, bo.pubkey]
    assert ana.open(Outbox.get_by_id(ids[0]).body)[1] == body_of(h)
    assert bo.open(Outbox.get_by_id(ids[1]).body)[1] == body_of(h)
    assert EscalationDispatch.get().target_solver == f"{ana.pubkey},{bo.pubkey}"


def test_an_assigned_read_solver_does_not_receive_it(make_dispute, run, esc_settings, ana, bo):
    # TST-P4-READASSIGNED
    d = make_dispute(state="taken", assigned_solver=bo.pubkey)
    handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    ids = run(esc_settings(solvers=[ana.write(), bo.read()]))
    assert [Outbox.get_by_id(i).recipient for i in ids] == [ana.pubkey]


def test_a_dispute_scoped_handoff_says_so_and_carries_no_session_key(make_dispute, run,
                                                                     esc_settings, ana):
    # TST-P4-NOSESSION
    d = make_dispute()
    handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    [row_id] = run(esc_settings(solvers=[ana.write()]))
    text = ana.open(Outbox.get_by_id(row_id).body)[1]
    assert "\nSession: <none \u2014 dispute-scoped handoff>\n" in text
    assert "session_id" not in json.loads(text.split("\n")[-1])


def test_two_cycles_over_one_handoff_send_one_dm(make_dispute, run, esc_settings, ana):
    # TST-P4-DEDUP
    d = make_dispute()
    handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    settings = esc_settings(solvers=[ana.write()])
    assert len(run(settings)) == 1
    assert run(settings, NOW + 30) == []
    assert (Outbox.select().count(), EscalationDispatch.select().count(),
            len(events("escalation_dispatched"))) == (1, 1, 1)


def test_a_repeated_dispatch_job_is_a_recorded_no_op(make_dispute, esc_settings, ana, signer):
    d = make_dispute()
    h = handoff.prepare(d.dispute_id, trigger="manual", now=NOW).handoff_id
    settings = esc_settings(solvers=[ana.write()])
    assert len(dispatch.dispatch_one(h, settings=settings, signer=signer, now=NOW).outbox_ids) == 1
    again = dispatch.dispatch_one(h, settings=settings, signer=signer, now=NOW)
    assert (again.status, again.outbox_ids, again.reason) == ("skipped", (), "already_sending")
    assert events("escalation_dispatch_skipped")[0]["reason"] == "already_sending"
    assert Outbox.select().count() == 1


# ------------------------------------------------------------------------------- supersession


def test_a_resolved_dispute_is_superseded_once_and_nobody_is_told(make_dispute, run,
                                                                  esc_settings, ana):
    # TST-P4-SUPERSEDE
    d = make_dispute()
    h = handoff.prepare(d.dispute_id, trigger="manual", now=NOW).handoff_id
    Dispute.update(lifecycle_state="resolved").execute()
    settings = esc_settings(solvers=[ana.write()])
    assert run(settings) == [] and run(settings, NOW + 30) == []
    assert events("escalation_superseded") == [
        {"dispute_id": d.dispute_id, "handoff_event_id": h, "reason": "dispute_already_resolved"}]
    assert (Outbox.select().count(), EscalationDispatch.select().count()) == (0, 0)
    assert status(h) == "superseded"


def test_a_dispute_resolving_after_the_dm_recalls_nothing(make_dispute, run, esc_settings, ana):
    # TST-P4-NORECALL
    d = make_dispute()
    handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    settings = esc_settings(solvers=[ana.write()])
    run(settings)
    Dispute.update(lifecycle_state="resolved").execute()
    assert run(settings, NOW + 30) == []
    assert EscalationDispatch.get().status == "dispatched"
    assert Outbox.select().count() == 1 and events("escalation_superseded") == []


def test_a_superseded_handoff_goes_out_if_its_dispute_is_no_longer_resolved(
        make_dispute, run, esc_settings, ana):
    # TST-P4-REPICK
    d = make_dispute()
    h = handoff.prepare(d.dispute_id, trigger="manual", now=NOW).handoff_id
    Dispute.update(lifecycle_state="resolved").execute()
    settings = esc_settings(solvers=[ana.write()])
    run(settings)
    run(settings, NOW + 30)
    assert len(events("escalation_superseded")) == 1 and Outbox.select().count() == 0
    Dispute.update(lifecycle_state="notified").execute()
    assert len(run(settings, NOW + 60)) == 1
    assert EscalationDispatch.select().count() == 1 and status(h) == "dispatched"


# ------------------------------------------------------------------------------- unroutable


def test_only_read_solvers_without_fallback_is_unroutable_recorded_once(make_dispute, run,
                                                                       esc_settings, ana, bo):
    # TST-P4-UNROUTABLE
    d = make_dispute()
    h = handoff.prepare(d.dispute_id, trigger="manual", now=NOW).handoff_id
    settings = esc_settings(solvers=[ana.read(), bo.read()])
    assert run(settings) == [] and run(settings, NOW + 30) == []
    assert events("escalation_dispatch_unroutable") == [
        {"dispute_id": d.dispute_id, "handoff_event_id": h, "configured_solver_count": 2,
         "fallback_to_all_solvers": False}]
    assert (Outbox.select().count(), EscalationDispatch.select().count()) == (0, 0)


def test_fallback_sends_to_every_solver_and_says_so(make_dispute, run, esc_settings, ana, bo):
    # TST-P4-FALLBACK
    d = make_dispute()
    handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    ids = run(esc_settings(solvers=[ana.read(), bo.read()], fallback=True))
    assert {Outbox.get_by_id(i).recipient for i in ids} == {ana.pubkey, bo.pubkey}
    row = EscalationDispatch.get()
    assert (row.fallback_broadcast, row.target_solver) == (1, f"{ana.pubkey},{bo.pubkey}")
    assert events("escalation_dispatched")[0]["fallback_broadcast"] is True


def test_zero_solvers_with_fallback_on_is_unroutable(make_dispute, run, esc_settings):
    # TST-P4-EMPTY-FALLBACK
    d = make_dispute()
    handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    assert run(esc_settings(solvers=[], fallback=True)) == []
    [unroutable] = events("escalation_dispatch_unroutable")
    assert (unroutable["configured_solver_count"], unroutable["fallback_to_all_solvers"]) == \
        (0, False)
    assert EscalationDispatch.select().count() == 0


def test_adding_a_write_solver_dispatches_waiting_unroutable_handoffs(make_dispute, run,
                                                                      esc_settings, ana, bo):
    # TST-P4-CONFIGFIX: the parked handoffs wait for a configuration that can route them
    disputes = [make_dispute() for _ in range(3)]
    handoffs = [handoff.prepare(d.dispute_id, trigger="manual", now=NOW).handoff_id
                for d in disputes]
    assert run(esc_settings(solvers=[bo.read()])) == []
    assert {status(h) for h in handoffs} == {"unroutable"}
    ids = run(esc_settings(solvers=[bo.read(), ana.write()]), NOW + 30)
    assert [Outbox.get_by_id(i).recipient for i in ids] == [ana.pubkey] * 3
    assert {r.target_solver for r in EscalationDispatch.select()} == {ana.pubkey}
    assert len(events("escalation_dispatch_unroutable")) == 3
    assert {status(h) for h in handoffs} == {"dispatched"}


# ------------------------------------------------------------------------------- parse failures


def test_a_payload_that_is_not_json_is_recorded_once_and_never_sent(run, esc_settings, ana):
    # TST-P4-MALFORMED, TST-P4-UNKNOWN-ID
    stray = AuditEvent.create(kind="handoff_prepared", payload_json="not valid json",
                              occurred_at=NOW)
    settings = esc_settings(solvers=[ana.write()])
    assert run(settings) == [] and run(settings, NOW + 30) == []
    [failed] = events("escalation_dispatch_parse_failed")
    assert (failed["dispute_id"], failed["handoff_event_id"], failed["reason"]) == \
        ("unknown", stray.id, "deserialize_failed")
    assert failed["detail"].startswith("not JSON")
    assert EscalationDispatch.select().count() == 0 and status(stray.id) == "parse_failed"


def test_a_package_naming_an_unknown_dispute_is_an_orphan(run, esc_settings, ana):
    # TST-P4-ORPHAN
    pkg = package.HandoffPackage("no-such-dispute", "manual", (), "", "", (), NOW)
    stray = AuditEvent.create(kind="handoff_prepared", payload_json=pkg.to_json(),
                              occurred_at=NOW)
    assert run(esc_settings(solvers=[ana.write()])) == []
    assert events("escalation_dispatch_parse_failed") == [
        {"dispute_id": "no-such-dispute", "handoff_event_id": stray.id,
         "reason": "orphan_dispute_reference", "detail": "dispute_id not found"}]
    assert Outbox.select().count() == 0


def test_a_poisoned_handoff_does_not_stop_a_good_one(make_dispute, run, esc_settings, ana):
    # TST-P4-POISON
    AuditEvent.create(kind="handoff_prepared", payload_json='{"dispute_id":"d-x"}',
                      occurred_at=NOW)
    d = make_dispute()
    handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    settings = esc_settings(solvers=[ana.write()])
    assert len(run(settings)) == 1
    [failed] = events("escalation_dispatch_parse_failed")
    assert (failed["dispute_id"], failed["detail"]) == ("d-x", "missing field `trigger`")
    assert run(settings, NOW + 30) == []
    assert (len(events("escalation_dispatch_parse_failed")),
            EscalationDispatch.select().count()) == (1, 1)


# ------------------------------------------------------------------------------- GAP-11


def test_two_hundred_unroutable_handoffs_do_not_hold_back_a_routable_one(
        make_dispute, run, esc_settings, bo, ana):
    # GAP-11: the original scans the oldest 128 pending handoffs, so these would starve it
    d = make_dispute()
    stuck = [handoff.prepare(d.dispute_id, trigger="manual", now=NOW, again=True).handoff_id
             for _ in range(200)]
    routable = handoff.prepare(d.dispute_id, trigger="manual", now=NOW, again=True,
                               pinned=routing.manual([ana.pubkey])).handoff_id
    settings = esc_settings(solvers=[bo.read()])
    # When the first cycle runs
    [row_id] = run(settings)
    # Then the routable one went out, the others are parked and leave the due set
    assert Outbox.get_by_id(row_id).recipient == ana.pubkey and status(routable) == "dispatched"
    assert {status(h) for h in stuck} == {"unroutable"}
    assert scan.due_ids(NOW + 30, settings=settings) == []
    # And a later one is the only handoff the next cycle looks at
    later = handoff.prepare(d.dispute_id, trigger="manual", now=NOW + 30, again=True,
                            pinned=routing.manual([ana.pubkey])).handoff_id
    assert scan.due_ids(NOW + 30, settings=settings) == [later]
    assert len(run(settings, NOW + 30)) == 1


def test_handoffs_of_resolved_disputes_do_not_hold_back_the_others(make_dispute, run,
                                                                   esc_settings, ana):
    resolved = make_dispute(state="resolved")
    for _ in range(150):
        handoff.prepare(resolved.dispute_id, trigger="manual", now=NOW, again=True)
    live = make_dispute()
    good = handoff.prepare(live.dispute_id, trigger="manual", now=NOW).handoff_id
    settings = esc_settings(solvers=[ana.write()])
    assert len(run(settings)) == 1 and status(good) == "dispatched"
    assert len(events("escalation_superseded")) == 150
    assert scan.due_ids(NOW + 30, settings=settings) == []


def test_a_cycle_smaller_than_the_backlog_still_reaches_every_handoff(make_dispute, esc_settings,
                                                                      signer, bo, ana):
    d = make_dispute()
    for _ in range(12):
        handoff.prepare(d.dispute_id, trigger="manual", now=NOW, again=True)
    routable = handoff.prepare(d.dispute_id, trigger="manual", now=NOW, again=True,
                               pinned=routing.manual([ana.pubkey])).handoff_id
    settings = esc_settings(solvers=[bo.read()])
    cycles = 0
    while status(routable) == "pending":
        scan.dispatch_due(NOW + cycles, settings=settings, signer=signer, limit=5)
        cycles += 1
    assert cycles == 3  # 5 + 5 + 3: parked handoffs are never looked at twice


# ------------------------------------------------------------------------------- errors


def test_a_handoff_that_raises_is_pushed_back_and_the_others_go_out(make_dispute, run,
                                                                    esc_settings, ana,
                                                                    monkeypatch):
    bad, good = make_dispute(), make_dispute()
    h_bad = handoff.prepare(bad.dispute_id, trigger="manual", now=NOW).handoff_id
    h_good = handoff.prepare(good.dispute_id, trigger="manual", now=NOW).handoff_id
    real = package.dm_body

    def dm_body(pkg, *more):
        if pkg.dispute_id == bad.dispute_id:
            raise RuntimeError("boom")
        return real(pkg, *more)
    monkeypatch.setattr(package, "dm_body", dm_body)
    settings = esc_settings(solvers=[ana.write()])
    assert len(run(settings)) == 1
    assert (status(h_bad), status(h_good)) == ("pending", "dispatched")
    assert EscalationHandoff.get_by_id(h_bad).next_attempt_at == NOW + scan.ERROR_BACKOFF_S
    assert Outbox.select().count() == 1  # the failed attempt left nothing behind
    assert run(settings, NOW + 30) == []
    monkeypatch.setattr(package, "dm_body", real)
    assert len(run(settings, NOW + scan.ERROR_BACKOFF_S)) == 1


def test_with_the_dispatcher_disabled_only_manual_escalations_go_out(make_dispute, run,
                                                                     esc_settings, ana):
    automatic = handoff.prepare(make_dispute().dispute_id, trigger="round_limit",
                                now=NOW).handoff_id
    manual = handoff.prepare(make_dispute().dispute_id, trigger="manual", now=NOW).handoff_id
    AuditEvent.create(kind="handoff_prepared", payload_json="{}", occurred_at=NOW)
    assert len(run(esc_settings(solvers=[ana.write()], enabled=False))) == 1
    assert (status(automatic), status(manual)) == ("pending", "dispatched")
    assert EscalationHandoff.select().count() == 2  # nothing adopted while disabled
    assert len(run(esc_settings(solvers=[ana.write()]), NOW + 30)) == 1
    assert status(automatic) == "dispatched"
