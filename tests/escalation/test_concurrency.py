"""Racing writers and dispatchers, each thread on its own database connection, on SQLite and on
PostgreSQL: every handoff is written once, dispatched once, and settled once."""

import threading
from collections import Counter

from serbero import outbox
from serbero.db.connection import database
from serbero.db.models import AuditEvent, Outbox
from serbero.errors import PublishError
from serbero.escalation import dispatch, handoff, scan
from serbero.escalation.models import EscalationDispatch, EscalationDm, EscalationHandoff
from tests.conftest import via
from tests.escalation.conftest import NOW, Relays


def race(count, work):
    """Run `work(i)` in `count` threads released together; re-raise the first error."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait(10)
            results[i] = work(i)
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            database.close()  # this thread's own connection
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_racing_dispatch_cycles_send_one_dm_set_per_handoff(backend, make_dispute, esc_settings,
                                                            signer, ana, bo):
    handoffs = [handoff.prepare(make_dispute().dispute_id, trigger="manual", now=NOW).handoff_id
                for _ in range(30)]
    settings = esc_settings(solvers=[ana.write(), bo.write()])
    returned = race(4, lambda i: scan.dispatch_due(NOW, settings=settings,
                                                   signer=signer).outbox_ids)
    # exactly one DM per solver for each handoff
    per_handoff = Counter(dm.handoff_event_id for dm in EscalationDm.select())
    assert per_handoff == dict.fromkeys(handoffs, 2)
    assert Counter(Outbox.get_by_id(dm.outbox_id).recipient for dm in EscalationDm.select()) == \
        {ana.pubkey: 30, bo.pubkey: 30}
    # each outbox row was handed to exactly one caller for publishing
    ids = [i for batch in returned for i in batch]
    assert sorted(ids) == sorted(o.id for o in Outbox.select())
    # and once published, one dispatch row and one audit row per handoff
    relays = Relays()
    for row_id in ids:
        outbox.publish(row_id, channels=via(relays), settings=settings, now=NOW)
    assert EscalationDispatch.select().count() == 30
    assert (AuditEvent.select().where(AuditEvent.kind == "escalation_dispatched").count()) == 30


def test_racing_jobs_for_one_handoff_dispatch_it_once(backend, make_dispute, esc_settings,
                                                      signer, ana):
    h = handoff.prepare(make_dispute().dispute_id, trigger="manual", now=NOW).handoff_id
    settings = esc_settings(solvers=[ana.write()])
    outcomes = race(6, lambda i: dispatch.dispatch_one(h, settings=settings, signer=signer,
                                                       now=NOW))
    assert sorted(len(o.outbox_ids) for o in outcomes) == [0, 0, 0, 0, 0, 1]
    assert (EscalationHandoff.get_by_id(h).attempts, Outbox.select().count()) == (1, 1)


def test_racing_escalations_of_one_dispute_write_one_handoff(backend, make_dispute):
    d = make_dispute()
    prepared = race(6, lambda i: handoff.prepare(d.dispute_id, trigger="manual", now=NOW))
    assert sorted(p.created for p in prepared) == [False] * 5 + [True]
    assert len({p.handoff_id for p in prepared}) == 1
    assert EscalationHandoff.select().count() == 1
    assert AuditEvent.select().where(AuditEvent.kind.in_(
        ["escalation_recommended", "handoff_prepared"])).count() == 2


class RefuseTogether(Relays):
    """Refuses every event, but only once all racing publishers have asked."""

    def __init__(self, parties):
        super().__init__()
        self.barrier = threading.Barrier(parties)

    def publish(self, event_json):
        self.barrier.wait(10)
        raise PublishError("blocked: not today", permanent=True)


def test_dms_failing_at_the_same_moment_end_their_attempt_once(backend, make_dispute,
                                                               esc_settings, signer, ana, bo,
                                                               cy):
    settings = esc_settings(solvers=[ana.write(), bo.write(), cy.write()])
    for _ in range(5):  # the lost-update window is narrow: give it several chances
        h = handoff.prepare(make_dispute().dispute_id, trigger="manual", now=NOW).handoff_id
        ids = scan.dispatch_due(NOW, settings=settings, signer=signer).outbox_ids
        relays = RefuseTogether(len(ids))
        statuses = race(len(ids), lambda i, ids=ids, relays=relays: outbox.publish(
            ids[i], channels=via(relays), settings=settings, now=NOW))
        assert statuses == ["failed"] * 3
        row = EscalationHandoff.get_by_id(h)
        assert (row.status, row.next_attempt_at) == ("send_failed", NOW + 60)
    assert AuditEvent.select().where(AuditEvent.kind == "escalation_send_failed").count() == 5
