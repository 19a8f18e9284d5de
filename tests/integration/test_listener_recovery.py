"""The listener recovers by itself from what goes wrong around it, and never loses an event on
the way: Redis down (issue 10, defect 7), a kill between two steps (defect 8), more events than
a relay page holds, a crash right after start, a relay that comes back (issue 8, item 2)."""

import asyncio
import json
import logging
import time
import uuid

import pytest
import redis

from serbero.db.models import ListenerCursor
from serbero.dedup import LocalSeen, RedisSeen
from serbero.listener import Listener
from serbero.listener.subscriptions import INGEST_DISPUTE_EVENT
from serbero.nostr.relays import connected_relays
from serbero.simulators.link import CuttableLink
from serbero.simulators.mostro_node import MostroNode, dispute_event
from serbero.simulators.relay import start_relay
from tests.conftest import NAMESPACE
from tests.integration.test_pipeline import Serving, wait_until


def private_queue(url):
    """A real Redis enqueue, into a list of a private Redis that the test may stop."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return client, (lambda raw: client.rpush("events", raw))


def queued_ids(client):
    return {json.loads(raw)["tags"][0][1] for raw in client.lrange("events", 0, -1)}


def test_a_redis_outage_does_not_stop_the_listener(nostr_loop, relay, mostro, db, make_settings,
                                                   private_redis, caplog):
    # issue 10, defect 7: the seen-filter raised outside the error handling, the consumer task
    # ended without a line, and new events waited for the five-minute re-fetch.
    client, enqueue = private_queue(private_redis.url)
    settings = make_settings(relays=[relay], mostro=mostro.pubkey)
    listener = Listener(settings, targets={INGEST_DISPUTE_EVENT: enqueue},
                        seen=RedisSeen(client, f"{NAMESPACE}-{uuid.uuid4().hex[:6]}"))
    serving = Serving(nostr_loop, listener)
    try:
        # Given Redis stops while the listener runs, and a dispute opens meanwhile
        private_redis.stop()
        with caplog.at_level(logging.WARNING, logger="serbero"):
            during = nostr_loop.run(mostro.open_dispute(), 10)
            wait_until(lambda: "redis_unreachable" in caplog.messages, timeout=10)
            # When Redis comes back (empty) and another dispute opens
            private_redis.start()
            after = nostr_loop.run(mostro.open_dispute(), 10)
            # Then both are handed over: the live one, and the one Redis missed, re-read at once
            wait_until(lambda: {during, after} <= queued_ids(client), timeout=10)
        assert caplog.messages.count("redis_unreachable") == 1
        assert "redis_back" in caplog.messages
        assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    finally:
        serving.stop()  # raises if the listener did not stop cleanly
    assert ListenerCursor.get_by_id("disputes").since >= int(time.time()) - 60


def test_a_flushed_redis_is_noticed_and_what_it_held_is_handed_over_again_at_once(
        nostr_loop, relay, mostro, db, make_settings, private_redis, caplog):
    # issue 8 (bench/chaos.py scenario b): a FLUSHALL mid-burst emptied the queues while Redis
    # kept answering, so nothing said "read again"; the jobs it held waited for the
    # five-minute re-fetch (14 of 300 disputes still unnotified a minute later).
    client, enqueue = private_queue(private_redis.url)
    settings = make_settings(relays=[relay], mostro=mostro.pubkey)
    listener = Listener(settings, targets={INGEST_DISPUTE_EVENT: enqueue},
                        seen=RedisSeen(client, f"{NAMESPACE}-{uuid.uuid4().hex[:6]}"))
    serving = Serving(nostr_loop, listener)
    try:
        # Given disputes handed to the queue that no worker has applied yet
        ids = {nostr_loop.run(mostro.open_dispute(), 10) for _ in range(3)}
        wait_until(lambda: ids <= queued_ids(client), timeout=10)
        # When Redis loses everything it held, and keeps answering
        with caplog.at_level(logging.INFO, logger="serbero"):
            client.flushall()
            flushed = time.monotonic()
            # Then the listener says so in one line and hands them over again within seconds
            wait_until(lambda: ids <= queued_ids(client), timeout=10)
            assert time.monotonic() - flushed < 5
            wait_until(lambda: any(r.getMessage() == "caught_up"
                                   and r.reason == "redis_lost_data" for r in caplog.records))
        assert caplog.messages.count("redis_lost_data") == 1
        assert "redis_unreachable" not in caplog.messages
    finally:
        serving.stop()


def poisoned_listener(settings, poison: str) -> tuple[Listener, list[str]]:
    """A listener whose dispute check raises on events that name `poison` (a bug meeting an
    event it did not expect), and the list its good events are handed to."""
    from dataclasses import replace

    from serbero.listener.subscriptions import deployment

    disputes = deployment(settings)[0]

    def check(raw):
        if poison in raw:
            raise RuntimeError("a bug met an event it did not expect")
        return disputes.check(raw)

    handed: list[str] = []
    listener = Listener(settings, targets={INGEST_DISPUTE_EVENT: handed.append},
                        seen=LocalSeen(), subscriptions=[replace(disputes, check=check)])
    return listener, handed


def test_an_event_that_breaks_its_check_is_logged_and_the_next_one_is_handled(
        nostr_loop, relay, mostro, db, make_settings, caplog):
    # issue 10, defect 7: the consumer must survive any error of one event
    settings = make_settings(relays=[relay], mostro=mostro.pubkey)
    poison = str(uuid.uuid4())
    listener, handed = poisoned_listener(settings, poison)
    serving = Serving(nostr_loop, listener)
    try:
        # Given an event that makes its check raise, then a good one
        nostr_loop.run(mostro.open_dispute(dispute_id=poison), 10)
        good = nostr_loop.run(mostro.open_dispute(), 10)
        # Then the good one is handed over, and the bad one is one error line
        wait_until(lambda: any(good in raw for raw in handed))
    finally:
        serving.stop()
    # (by the live stream or by the start-up's read, whichever met it first; or both)
    assert {r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR} == {
        "event_not_handled"}


def test_an_event_that_breaks_its_check_does_not_end_a_catch_up(nostr_loop, relay, mostro, db,
                                                                  make_settings, caplog):
    settings = make_settings(relays=[relay], mostro=mostro.pubkey)
    poison = str(uuid.uuid4())
    # Given a relay that holds a poisonous event and, dated a second earlier, a good one, both
    # before the live subscription's overlap: only the start-up's read can meet them
    old = int(time.time()) - 2 * settings.timeouts.resume_overlap_seconds
    earlier = dispute_event(mostro.keys, str(uuid.uuid4()), "initiated", initiator="buyer",
                            created_at=old, opened_at=old)
    poisonous = dispute_event(mostro.keys, poison, "initiated", initiator="buyer",
                              created_at=old + 1, opened_at=old + 1)
    for event in (earlier, poisonous):
        nostr_loop.run(mostro.send(event), 10)
    listener, handed = poisoned_listener(settings, poison)
    # When the listener starts and reads the relay back
    serving = Serving(nostr_loop, listener)
    try:
        wait_until(lambda: any(earlier.id().to_hex() in raw for raw in handed))
    finally:
        serving.stop()
    # Then the read went past the poisonous event, which is one error line
    assert "event_not_handled" in {r.getMessage() for r in caplog.records}
    assert "catch_up_incomplete" not in {r.getMessage() for r in caplog.records}


class Killed(BaseException):
    """The process dies here: SIGKILL runs no handler, so nothing after this line happens."""


def test_a_listener_killed_between_marking_and_enqueueing_loses_nothing(db, make_settings,
                                                                         redis_client, mostro):
    # issue 10, defect 8: the event was marked seen before it was enqueued; a kill in between
    # left a mark with no job, and every later replay skipped it as a duplicate.
    settings = make_settings(mostro=mostro.pubkey)
    namespace = f"{NAMESPACE}-{uuid.uuid4().hex[:6]}"
    event = mostro.revision(str(uuid.uuid4()), "initiated").as_json()

    def dies(raw):
        raise Killed

    # Given a listener that dies while handing an event over
    first = Listener(settings, targets={INGEST_DISPUTE_EVENT: dies},
                     seen=RedisSeen(redis_client, namespace))
    with pytest.raises(Killed):
        first.handle(event)
    # When the event is replayed to the next listener (a restart, a re-fetch, a second one)
    queued = []
    second = Listener(settings, targets={INGEST_DISPUTE_EVENT: queued.append},
                      seen=RedisSeen(redis_client, namespace))
    # Then it is handed over, and only once however often it comes again
    assert second.handle(event) == "enqueued"
    assert second.handle(event) == "duplicate"
    assert queued == [event]


# ------------------------------------------------------------------ issue 8, item 2

#: Events one request gets from the test relay (public relays: often 500).
PAGE = 20
#: The default look-back of a cold start.
LOOKBACK_S = 30 * 86400


@pytest.fixture
def paged_relay(nostr_loop):
    local, url = nostr_loop.run(start_relay(page_limit=PAGE), 10)
    yield url
    local.shutdown()


@pytest.fixture
def node(nostr_loop, paged_relay):
    node = nostr_loop.run(MostroNode().connect([paged_relay]), 10)
    yield node
    nostr_loop.run(node.shutdown(), 10)


def opened(node, count, *, newest_at, step_s):
    """`count` disputes still open, the newest dated `newest_at`, one every `step_s` before."""
    return [dispute_event(node.keys, str(uuid.uuid4()), "initiated",
                          created_at=newest_at - i * step_s) for i in range(count)]


def publish(nostr_loop, node, events):
    async def send_all():
        await asyncio.gather(*(node.send(e) for e in events))
    nostr_loop.run(send_all(), 30)
    return {e.id().to_hex() for e in events}


def handed_ids(handed):
    return {json.loads(raw)["id"] for raw in handed}


def test_a_catch_up_reads_more_events_than_one_relay_page_holds(nostr_loop, paged_relay, node,
                                                                db, make_settings):
    # issue 8, item 2: the start-up subscription asked once from the resume point, the relay
    # answered with one page, and the older events were never read (357 disputes lost).
    now = int(time.time())
    ListenerCursor.create(name="disputes", since=now - 3600, updated_at=now)
    # Given a listener that was down for an hour, while more disputes opened than a page holds
    ids = publish(nostr_loop, node, opened(node, 2 * PAGE + 5, newest_at=now, step_s=60))
    handed = []
    listener = Listener(make_settings(relays=[paged_relay], mostro=node.pubkey),
                        targets={INGEST_DISPUTE_EVENT: handed.append}, seen=LocalSeen())
    # When it starts
    serving = Serving(nostr_loop, listener)
    try:
        # Then it hands over every one of them, once
        wait_until(lambda: handed_ids(handed) >= ids, timeout=10)
    finally:
        serving.stop()
    assert len(handed) == len(ids)


def test_a_listener_killed_right_after_start_resumes_from_where_it_started(nostr_loop, relay,
                                                                          mostro, db,
                                                                          make_settings):
    # issue 8, item 2: `serbero run` killed before its first cursor save started cold again
    settings = make_settings(relays=[relay], mostro=mostro.pubkey)
    listener = Listener(settings, targets={INGEST_DISPUTE_EVENT: lambda raw: None},
                        seen=LocalSeen())
    started = int(time.time())
    nostr_loop.run(listener.start(), 15)
    try:
        # killed here: no periodic save, no stop; what is in the database is all that is left
        saved = ListenerCursor.get_or_none(ListenerCursor.name == "disputes")
        assert saved is not None
        assert started - LOOKBACK_S <= saved.since <= int(time.time()) - LOOKBACK_S
    finally:
        listener._consumer.cancel()
        nostr_loop.run(listener.client.shutdown(), 10)


def test_a_relay_that_comes_back_is_read_again_at_once(nostr_loop, paged_relay, node, db,
                                                       make_settings, caplog):
    # issue 8, item 2: after a relay came back the listener waited for the five-minute
    # re-fetch (which read one page); the relay's replay of the subscription is one page too.
    link = nostr_loop.run(CuttableLink(paged_relay).open(), 10)
    handed = []
    listener = Listener(make_settings(relays=[link.url], mostro=node.pubkey),
                        targets={INGEST_DISPUTE_EVENT: handed.append}, seen=LocalSeen())
    caplog.set_level(logging.INFO, logger="serbero.listener")
    serving = Serving(nostr_loop, listener)
    try:
        # Given the link to the relay fails, and more disputes open meanwhile than a page
        nostr_loop.run(link.cut(), 10)
        wait_until(lambda: not nostr_loop.run(connected_relays(listener.client), 5))
        ids = publish(nostr_loop, node, opened(node, 2 * PAGE + 5, newest_at=int(
            time.time()), step_s=1))
        # When the link is back
        nostr_loop.run(link.open(), 10)
        back = time.monotonic()
        # Then all of them are read within seconds (nostr-sdk retries every 5 s), and the
        # listener says so in one line
        wait_until(lambda: handed_ids(handed) >= ids, timeout=20)
        assert time.monotonic() - back < 12
        wait_until(lambda: any(r.getMessage() == "caught_up" and r.reason == "relay_back"
                               for r in caplog.records))
    finally:
        serving.stop()
        nostr_loop.run(link.cut(), 10)


def dropping_listener(settings, dropped):
    """A listener whose live stream loses the first copy of dispute `dropped`, as a busy relay
    drops events to a connection; what it hands over, and the copies it lost."""
    from dataclasses import replace

    from serbero.listener.subscriptions import deployment

    disputes = deployment(settings)[0]
    live_copies, handed = [], []

    def check(raw):
        if dropped in raw and not live_copies:
            live_copies.append(raw)
            raise RuntimeError("dropped")
        return disputes.check(raw)

    listener = Listener(settings, targets={INGEST_DISPUTE_EVENT: handed.append},
                        seen=LocalSeen(), subscriptions=[replace(disputes, check=check)])
    return listener, handed, live_copies


def test_a_catch_up_that_met_live_traffic_is_followed_by_a_second_read(
        nostr_loop, relay, mostro, db, make_settings, monkeypatch):
    # issue 8 (bench/chaos.py scenario b): a relay busy answering a catch-up dropped live
    # events to that connection (22 of 300 in a burst); nothing read them for five minutes.
    from serbero.listener import catchup

    monkeypatch.setattr(catchup, "SETTLE_AFTER_S", 2.0)
    dropped = str(uuid.uuid4())
    listener, handed, live_copies = dropping_listener(
        make_settings(relays=[relay], mostro=mostro.pubkey), dropped)
    serving = Serving(nostr_loop, listener)
    try:
        wait_until(lambda: not listener.catch_up.running())
        # Given a dispute whose live copy the listener never gets, right after its start-up
        # reading
        nostr_loop.run(mostro.open_dispute(dispute_id=dropped), 10)
        wait_until(lambda: live_copies, timeout=5)
        # Then the second read hands it over within seconds, not at the periodic catch-up
        wait_until(lambda: any(dropped in raw for raw in handed), timeout=5)
    finally:
        serving.stop()
    assert len(handed) == 1


def test_while_events_come_an_event_the_stream_dropped_is_read_within_seconds(
        nostr_loop, relay, mostro, db, make_settings, monkeypatch):
    # issue 8 (bench/chaos.py scenario a, long form, loaded machine): the relay dropped 13 of
    # 1,000 live events with no catch-up running; they waited for the five-minute re-read.
    from serbero.listener import catchup, service

    monkeypatch.setattr(catchup, "SETTLE_AFTER_S", 3600.0)  # only the busy re-read is left
    monkeypatch.setattr(service, "BUSY_RECONCILE_EVERY_S", 1)
    dropped = str(uuid.uuid4())
    listener, handed, live_copies = dropping_listener(
        make_settings(relays=[relay], mostro=mostro.pubkey), dropped)
    serving = Serving(nostr_loop, listener)
    try:
        wait_until(lambda: not listener.catch_up.running())
        # Given disputes coming in, one of which the stream drops
        nostr_loop.run(mostro.open_dispute(), 10)
        nostr_loop.run(mostro.open_dispute(dispute_id=dropped), 10)
        wait_until(lambda: live_copies, timeout=5)
        # Then the busy re-read hands it over within seconds
        wait_until(lambda: any(dropped in raw for raw in handed), timeout=5)
    finally:
        serving.stop()


def test_a_busy_re_read_is_followed_by_a_second_read(nostr_loop, relay, mostro, db,
                                                      make_settings, monkeypatch):
    # issue 8 (bench/chaos.py, scenarios a, g and h; bench_core's latency phase): the re-read
    # that runs while events come met live traffic like any catch-up, and the relay dropped one
    # of the last events of a burst to the listener meanwhile; with no second read after it,
    # that event waited 20 s for the next re-read.
    from serbero.listener import catchup, service

    monkeypatch.setattr(catchup, "SETTLE_AFTER_S", 2.0)
    monkeypatch.setattr(service, "BUSY_RECONCILE_EVERY_S", 1)
    dropped = str(uuid.uuid4())
    listener, handed, live_copies = dropping_listener(
        make_settings(relays=[relay], mostro=mostro.pubkey), dropped)
    reasons: list[str] = []
    request = listener.catch_up.request
    monkeypatch.setattr(listener.catch_up, "request", lambda relays, since, reason: (
        reasons.append(reason), request(relays, since, reason))[1])
    serving = Serving(nostr_loop, listener)
    try:
        # (the start-up reading and the second read after it, done)
        wait_until(lambda: "settle" in reasons and not listener.catch_up.running(), timeout=10)
        # Given events coming, and a busy re-read that ran meanwhile
        nostr_loop.run(mostro.open_dispute(), 10)
        wait_until(lambda: "busy" in reasons and not listener.catch_up.running(), timeout=10)
        monkeypatch.setattr(service, "BUSY_RECONCILE_EVERY_S", 3600)  # no further busy one
        # When the stream drops an event of the burst's tail, right after it
        nostr_loop.run(mostro.open_dispute(dispute_id=dropped), 10)
        wait_until(lambda: live_copies, timeout=5)
        # Then the second read after the busy one hands it over within seconds
        wait_until(lambda: any(dropped in raw for raw in handed), timeout=5)
    finally:
        serving.stop()
    assert sum(dropped in raw for raw in handed) == 1
