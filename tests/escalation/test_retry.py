"""A handoff none of whose DMs reached a relay is re-dispatched with back-off, guarded by a token
(TST-P4-SENDFAIL, then beyond the original, which never retries: GAP-23)."""

import pytest

from serbero import outbox
from serbero.config import SolverEntry
from serbero.db.models import AuditEvent, Notification, Outbox
from serbero.errors import PublishError
from serbero.escalation import dispatch, handoff, retry, scan
from serbero.escalation.models import EscalationDispatch, EscalationHandoff
from tests.conftest import via
from tests.escalation.conftest import NOW

BAD = SolverEntry("npub1notakey", "write")


def events(kind):
    return [e.payload for e in AuditEvent.select().where(AuditEvent.kind == kind)
            .order_by(AuditEvent.id)]


def row(handoff_id):
    return EscalationHandoff.get_by_id(handoff_id)


@pytest.fixture
def escalated(backend, db, make_dispute):
    """A fresh manual handoff, on SQLite and on PostgreSQL."""
    d = make_dispute()
    return handoff.prepare(d.dispute_id, trigger="manual", now=NOW).handoff_id


def test_a_lone_write_solver_with_a_malformed_pubkey_is_a_send_failure(escalated, esc_settings,
                                                                        signer):
    # TST-P4-SENDFAIL
    settings = esc_settings(solvers=[BAD])
    out = dispatch.dispatch_one(escalated, settings=settings, signer=signer, now=NOW)
    assert out.outbox_ids == () and out.status == "send_failed"
    [dispatched] = EscalationDispatch.select().where(EscalationDispatch.status == "send_failed")
    assert dispatched.target_solver == "npub1notakey"
    assert events("escalation_dispatched")[0]["status"] == "send_failed"
    [failed] = Notification.select()
    assert (failed.status, failed.solver_pubkey) == ("failed", "npub1notakey")
    assert failed.error_message.startswith("invalid pubkey")
    # a cycle before the retry is due adds nothing
    assert scan.dispatch_due(NOW + 1, settings=settings, signer=signer).outbox_ids == ()
    assert (EscalationDispatch.select().count(), len(events("escalation_dispatched"))) == (1, 1)
    # and a re-dispatch is scheduled, with a token for the delayed job
    assert out.retry == retry.Retry(escalated, row(escalated).retry_token, NOW + 60)
    assert events("escalation_send_failed")[0]["retry_at"] == NOW + 60


def test_the_retry_routes_again_so_a_fixed_configuration_reaches_the_solver(
        escalated, esc_settings, signer, relays, ana):
    dispatch.dispatch_one(escalated, settings=esc_settings(solvers=[BAD]), signer=signer,
                          now=NOW)
    first = EscalationDispatch.get()
    fixed = esc_settings(solvers=[ana.write()])
    [row_id] = scan.dispatch_due(NOW + 60, settings=fixed, signer=signer).outbox_ids
    assert Outbox.get_by_id(row_id).recipient == ana.pubkey
    outbox.publish(row_id, channels=via(relays), settings=fixed, now=NOW + 60)
    again = EscalationDispatch.get()
    assert (again.dispatch_id, again.status, again.attempt, again.target_solver) == \
        (first.dispatch_id, "dispatched", 2, ana.pubkey)
    # every dispatch row has its audit rows and every audit row its dispatch row (OBS-9)
    assert {e["dispatch_id"] for e in events("escalation_dispatched")} == {first.dispatch_id}
    assert [e["attempt"] for e in events("escalation_dispatched")] == [1, 2]


def test_dms_every_relay_refuses_end_the_attempt_and_back_off_doubles(
        escalated, esc_settings, signer, relays, ana, bo):
    settings = esc_settings(solvers=[ana.write(), bo.write()])
    relays.refuse = {p: PublishError("blocked: no", permanent=True)
                     for p in (ana.pubkey, bo.pubkey)}
    for attempt, now, delay in ((1, NOW, 60), (2, NOW + 60, 120), (3, NOW + 180, 240)):
        ids = scan.dispatch_due(now, settings=settings, signer=signer).outbox_ids
        assert len(ids) == 2
        # one refusal leaves the attempt alive, the second ends it
        assert outbox.publish(ids[0], channels=via(relays), settings=settings, now=now) == "failed"
        assert row(escalated).status == "sending"
        outbox.publish(ids[1], channels=via(relays), settings=settings, now=now)
        h = row(escalated)
        assert (h.status, h.attempts, h.next_attempt_at) == ("send_failed", attempt, now + delay)
        assert scan.dispatch_due(now + delay - 1, settings=settings, signer=signer).outbox_ids == ()
    assert EscalationDispatch.get().status == "send_failed"
    # when the relays accept again, the next attempt is delivered
    relays.refuse = {}
    ids = scan.dispatch_due(NOW + 420, settings=settings, signer=signer).outbox_ids
    for i in ids:
        outbox.publish(i, channels=via(relays), settings=settings, now=NOW + 420)
    assert row(escalated).status == "dispatched" and row(escalated).delivered_at == NOW + 420
    assert EscalationDispatch.get().status == "dispatched"
    assert Outbox.select().count() == 8  # four attempts of two freshly signed DMs


def test_the_dispatch_records_say_what_happened_and_agree(escalated, esc_settings, signer,
                                                         relays, ana, bo):
    # issue 10, defect 6: the dispatch row and its audit row said `dispatched` as soon as the
    # DMs were queued, and the audit row still said so after every DM had failed
    settings = esc_settings(solvers=[ana.write(), bo.write()])
    relays.refuse = {p: PublishError("blocked: no", permanent=True)
                     for p in (ana.pubkey, bo.pubkey)}
    ids = scan.dispatch_due(NOW, settings=settings, signer=signer).outbox_ids
    # Given DMs written but not yet published, nothing claims they were dispatched
    assert (EscalationDispatch.select().count(), events("escalation_dispatched")) == (0, [])
    # When every relay refuses them, both records say send_failed
    for i in ids:
        outbox.publish(i, channels=via(relays), settings=settings, now=NOW)
    failed = EscalationDispatch.get()
    [audit_row] = events("escalation_dispatched")
    assert failed.status == audit_row["status"] == "send_failed"
    assert audit_row["dispatch_id"] == failed.dispatch_id and audit_row["attempt"] == 1
    # When the next attempt lands, both say dispatched, for attempt 2
    relays.refuse = {}
    for i in scan.dispatch_due(NOW + 60, settings=settings, signer=signer).outbox_ids:
        outbox.publish(i, channels=via(relays), settings=settings, now=NOW + 60)
    done = EscalationDispatch.get()
    latest = events("escalation_dispatched")[-1]
    assert (done.status, done.attempt, done.dispatch_id) == ("dispatched", 2, failed.dispatch_id)
    assert (latest["status"], latest["attempt"], latest["target_solver"]) == \
        ("dispatched", 2, done.target_solver)


def test_one_accepted_dm_makes_the_dispatch_final(escalated, esc_settings, signer, relays,
                                                  ana, bo):
    settings = esc_settings(solvers=[ana.write(), bo.write()])
    relays.refuse = {bo.pubkey: PublishError("blocked: no", permanent=True)}
    ids = scan.dispatch_due(NOW, settings=settings, signer=signer).outbox_ids
    assert [outbox.publish(i, channels=via(relays), settings=settings, now=NOW) for i in ids] == \
        ["sent", "failed"]
    assert row(escalated).status == "dispatched" and row(escalated).retry_token is None
    assert scan.dispatch_due(NOW + 3600, settings=settings, signer=signer).outbox_ids == ()


def test_a_delayed_retry_with_a_stale_token_does_nothing_but_say_so(escalated, esc_settings,
                                                                    signer, ana):
    out = dispatch.dispatch_one(escalated, settings=esc_settings(solvers=[BAD]), signer=signer,
                                now=NOW)
    fixed = esc_settings(solvers=[ana.write()])
    # the scan got there first when the retry came due
    assert len(scan.dispatch_due(NOW + 60, settings=fixed, signer=signer).outbox_ids) == 1
    late = dispatch.dispatch_one(escalated, settings=fixed, signer=signer, now=NOW + 61,
                                 token=out.retry.token)
    assert (late.status, late.reason, late.outbox_ids) == ("skipped", "stale_token", ())
    assert events("escalation_dispatch_skipped")[-1]["reason"] == "stale_token"
    assert Outbox.select().count() == 1


def test_the_delayed_retry_with_the_current_token_wins_over_the_scan(escalated, esc_settings,
                                                                     signer, ana):
    out = dispatch.dispatch_one(escalated, settings=esc_settings(solvers=[BAD]), signer=signer,
                                now=NOW)
    fixed = esc_settings(solvers=[ana.write()])
    job = dispatch.dispatch_one(escalated, settings=fixed, signer=signer, now=NOW + 60,
                                token=out.retry.token)
    assert len(job.outbox_ids) == 1
    assert scan.dispatch_due(NOW + 60, settings=fixed, signer=signer).outbox_ids == ()
    assert row(escalated).retry_token is None


def test_the_failed_dm_that_ends_an_attempt_names_its_retry(escalated, esc_settings, signer,
                                                           relays, ana):
    settings = esc_settings(solvers=[ana.write()])
    relays.refuse = {ana.pubkey: PublishError("invalid: nope", permanent=True)}
    [row_id] = scan.dispatch_due(NOW, settings=settings, signer=signer).outbox_ids
    published = outbox.publish_many([row_id], channels=via(relays), settings=settings, now=NOW)
    assert published.statuses == ("failed",)
    assert retry.Retry.of(published) == retry.Retry(escalated, row(escalated).retry_token,
                                                    NOW + 60)


def test_a_handoff_is_given_up_after_the_last_attempt(escalated, esc_settings, signer,
                                                     monkeypatch):
    monkeypatch.setattr(retry, "MAX_ATTEMPTS", 2)
    settings = esc_settings(solvers=[BAD])
    scan.dispatch_due(NOW, settings=settings, signer=signer)
    out = dispatch.dispatch_one(escalated, settings=settings, signer=signer, now=NOW + 60)
    assert out.status == "send_failed" and out.retry is None
    h = row(escalated)
    assert (h.attempts, h.next_attempt_at, h.retry_token) == (2, None, None)
    assert events("escalation_send_failed")[-1]["retry_at"] is None
    assert scan.dispatch_due(NOW + 10**6, settings=settings, signer=signer).outbox_ids == ()


def test_back_off_doubles_from_a_minute_up_to_an_hour():
    assert [retry.delay_s(n) for n in range(1, 9)] == \
        [60, 120, 240, 480, 960, 1920, 3600, 3600]
