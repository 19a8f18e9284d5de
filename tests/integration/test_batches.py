"""Dispute events in batches (issue 8, burst throughput): a batch has exactly the effect of its
events applied one by one (bad ones dropped, copies changing nothing, the solvers decrypting one
notice per dispute); a batch that fails is split into jobs of one event each, and nothing is
lost; a burst through the real listener goes as far fewer jobs than events. Real relay, Redis,
worker, keys and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serbero import clock
from serbero.db.models import Dispute, Notification, ProcessedInput
from serbero.disputes import ingest
from serbero.listener.batch import MAX_EVENTS
from serbero.simulators.mostro_node import dispute_event
from serbero_workers import actors, wiring
from tests.integration.test_pipeline import Serving, wait_until


def test_a_batch_has_the_effect_of_its_events_one_by_one(runtime, driver, mostro, nostr_loop,
                                                          solver_ana, solver_bo):
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    opened_a = mostro.revision(a, "initiated").as_json()
    batch = [opened_a, "not an event", mostro.revision(b, "initiated").as_json(), opened_a,
             mostro.revision(c, "in-progress").as_json()]
    now = clock.now()

    result = ingest.ingest_many(batch, settings=runtime.settings, signer=runtime.signer, now=now)
    driver.publish(result.outbox_ids, now)

    assert {d.dispute_id: d.lifecycle_state for d in Dispute.select()} == {
        a: "notified", b: "notified", c: "taken"}
    assert ProcessedInput.select().count() == 3
    for dispute_id in (a, b):
        assert Notification.select().where((Notification.dispute == dispute_id)
                                           & (Notification.notif_type == "initial")
                                           & (Notification.status == "sent")).count() == 2
    for inbox in (solver_ana, solver_bo):
        for dispute_id in (a, b):
            nostr_loop.run(inbox.wait_for(1, containing=dispute_id, timeout=10), 15)
    nostr_loop.run(asyncio.sleep(0.5), 5)
    for inbox in (solver_ana, solver_bo):
        assert [len(inbox.texts(d)) for d in (a, b)] == [1, 1]
    notifications = Notification.select().count()

    # The same batch again (a redelivered job) changes nothing.
    again = ingest.ingest_many(batch, settings=runtime.settings, signer=runtime.signer,
                               now=clock.now())
    assert again.outbox_ids == ()
    assert ProcessedInput.select().count() == 3
    assert Notification.select().count() == notifications


def test_an_opening_of_a_dispute_seen_before_has_its_lone_effect(runtime, driver, mostro):
    """A dispute first seen taken (Serbero was down when it opened), then its opening in a
    batch beside a new dispute: the new one is recorded with the others of its batch, the
    one seen before goes the one-by-one way and is neither reopened nor announced."""
    seen, new = str(uuid.uuid4()), str(uuid.uuid4())
    driver.ingest(mostro.revision(seen, "in-progress"))
    late_opening = dispute_event(mostro.keys, seen, "initiated", initiator="buyer",
                                 created_at=clock.now() - 60, opened_at=clock.now() - 60)

    result = ingest.ingest_many([late_opening.as_json(),
                                 mostro.revision(new, "initiated").as_json()],
                                settings=runtime.settings, signer=runtime.signer,
                                now=clock.now())
    driver.publish(result.outbox_ids)

    assert {d.dispute_id: d.lifecycle_state for d in Dispute.select()} == {
        seen: "taken", new: "notified"}
    assert Dispute.get_by_id(seen).dispute_status == "in-progress"
    assert Notification.select().where((Notification.dispute == seen)
                                       & (Notification.notif_type == "initial")).count() == 0
    assert ProcessedInput.select().count() == 3


def test_an_opening_applied_before_is_not_recorded_again(runtime, driver, mostro):
    """An opening whose event id the inbox holds (its dispute row since deleted by hand, say)
    changes nothing, as it would alone, and holds back none of its batch."""
    gone, new = str(uuid.uuid4()), str(uuid.uuid4())
    applied = mostro.revision(gone, "initiated")
    ProcessedInput.create(key=applied.id().to_hex(), kind=ingest.INPUT_KIND,
                          outcome="detected", processed_at=clock.now())

    result = ingest.ingest_many([applied.as_json(), mostro.revision(new, "initiated").as_json()],
                                settings=runtime.settings, signer=runtime.signer,
                                now=clock.now())
    driver.publish(result.outbox_ids)

    assert [d.dispute_id for d in Dispute.select()] == [new]
    assert Dispute.get_by_id(new).lifecycle_state == "notified"
    assert Notification.select().where(Notification.dispute == gone).count() == 0
    assert ProcessedInput.select().count() == 2


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.one_of(st.text(max_size=200), st.integers(), st.none(),
                                st.binary(max_size=64), st.lists(st.text(max_size=8))),
                      max_size=8)
       | st.text(max_size=100) | st.integers() | st.none()
       | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_a_hostile_batch_changes_nothing_and_raises_nothing(runtime, batch):
    """A message on the queue is outside input too: whatever its list holds (or if it is no
    list at all), nothing is applied and nothing escapes."""
    result = ingest.ingest_many(batch, settings=runtime.settings, signer=runtime.signer,
                                now=clock.now())
    assert result.outbox_ids == ()
    assert Dispute.select().count() == 0 and ProcessedInput.select().count() == 0


def test_a_batch_that_fails_is_split_and_every_event_applied(runtime, broker, worker, mostro,
                                                              mocker):
    ids = [str(uuid.uuid4()) for _ in range(4)]
    execute_sql = peewee.Database.execute_sql
    failed = []

    def disk_fault_once(db, sql, *args, **kwargs):
        """The database fails the batch's first inbox claim, as a full disk would."""
        if sql.startswith("INSERT") and '"processed_inputs"' in sql and not failed:
            failed.append(sql)
            raise peewee.OperationalError("disk I/O error")
        return execute_sql(db, sql, *args, **kwargs)

    mocker.patch.object(peewee.Database, "execute_sql", disk_fault_once)
    actors.ingest_dispute_events.send([mostro.revision(d, "initiated").as_json() for d in ids])
    wait_until(lambda: Dispute.select().where(Dispute.lifecycle_state == "notified").count()
               == len(ids), timeout=30)
    assert failed, "the fault never fired"
    assert ProcessedInput.select().count() == len(ids)


@pytest.mark.slow
def test_a_burst_through_the_listener_goes_as_few_jobs(runtime, broker, worker, mostro,
                                                         nostr_loop, solver_ana, solver_bo,
                                                         redis_client):
    from serbero.dedup import RedisSeen
    from serbero.listener import Listener
    from tests.conftest import NAMESPACE

    batches: list[int] = []
    send_many = actors.ingest_dispute_events.send

    def counted(raws):
        batches.append(len(raws))
        return send_many(raws)

    listener = Listener(runtime.settings, targets=wiring.targets(),
                        seen=RedisSeen(redis_client, NAMESPACE),
                        batched={"ingest_dispute_event": counted})
    serving = Serving(nostr_loop, listener)
    disputes = 60
    try:
        ids = [str(uuid.uuid4()) for _ in range(disputes)]
        events = [mostro.revision(d, "initiated") for d in ids]
        async def publish_all():
            await asyncio.gather(*(mostro.send(e) for e in events))
        nostr_loop.run(publish_all(), 30)
        wait_until(lambda: Dispute.select().where(Dispute.lifecycle_state == "notified").count()
                   == disputes, timeout=60)
        for inbox in (solver_ana, solver_bo):
            nostr_loop.run(inbox.wait_for(disputes, timeout=30), 40)
    finally:
        serving.stop()
    assert sum(batches) >= disputes  # each event handed over (a catch-up may add copies)
    assert len(batches) < disputes
    assert max(batches) <= MAX_EVENTS
    assert ProcessedInput.select().count() == disputes
    for inbox in (solver_ana, solver_bo):
        assert len(inbox.messages) == disputes
