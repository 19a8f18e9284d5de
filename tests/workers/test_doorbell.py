"""The doorbell: idle consumers wait long between Redis polls, yet pick up work enqueued by any
process at once; a ring that never comes costs at most one idle wait; an ack frees a full
prefetch at once; garbage on the channel changes nothing. Real Redis, private namespaces."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from hypothesis import given, settings
from hypothesis import strategies as st

from serbero_workers.broker import IDLE_DELAY_POLL_MS, SerberoRedisBroker
from serbero_workers.doorbell import Doorbell
from tests.conftest import REDIS_URL

#: An idle wait far longer than any assertion below: only the doorbell can end it in time.
LONG_IDLE_MS = 10_000


@pytest.fixture
def namespace() -> Iterator[str]:
    ns = f"serbero-doorbell-test-{uuid.uuid4().hex[:10]}"
    yield ns
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{ns}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def make_broker(namespace: str) -> Iterator[Callable[[], SerberoRedisBroker]]:
    made: list[SerberoRedisBroker] = []

    def make() -> SerberoRedisBroker:
        broker = SerberoRedisBroker(client=redis.Redis.from_url(REDIS_URL), namespace=namespace,
                                    middleware=[])
        broker.declare_queue("q")
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()


def _message(n: int = 0) -> dramatiq.Message:
    return dramatiq.Message(queue_name="q", actor_name="noop", args=(n,), kwargs={}, options={})


def _next_message(consumer: Any, within_s: float) -> tuple[Any, float]:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        got = next(consumer)
        if got is not None:
            return got, time.monotonic() - started
    return None, time.monotonic() - started


def _later(delay_s: float, action: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay_s), action()), daemon=True)
    thread.start()
    return thread


def test_an_idle_consumer_takes_work_enqueued_by_another_process_at_once(make_broker):
    consumer = make_broker().consume("q", prefetch=1, timeout=LONG_IDLE_MS)
    consumer.idle_misses = 20  # long idle: each wait now lasts 5-10 s
    other = make_broker()
    _later(0.3, lambda: other.enqueue(_message(1)))
    got, after_s = _next_message(consumer, 4)
    assert got is not None and got.args == (1,)
    assert after_s < 2.0


def test_work_nobody_rang_for_is_taken_after_one_idle_wait(make_broker, namespace):
    consumer = make_broker().consume("q", prefetch=1, timeout=300)
    consumer.idle_misses = 20
    plain = RedisBroker(client=redis.Redis.from_url(REDIS_URL), namespace=namespace,
                        middleware=[])
    plain.declare_queue("q")
    plain.enqueue(_message(2))  # dramatiq's own broker: no ring
    got, after_s = _next_message(consumer, 3)
    assert got is not None and got.args == (2,)
    assert after_s < 1.5


def test_an_ack_lets_a_consumer_with_a_full_prefetch_fetch_at_once(make_broker):
    broker = make_broker()
    consumer = broker.consume("q", prefetch=1, timeout=LONG_IDLE_MS)
    broker.enqueue(_message(1))
    broker.enqueue(_message(2))
    first, _ = _next_message(consumer, 3)
    assert first is not None
    consumer.idle_misses = 20
    _later(0.3, lambda: consumer.ack(first))
    second, after_s = _next_message(consumer, 4)
    assert second is not None and second.args == (2,)
    assert after_s < 2.0


def test_an_idle_consumer_polls_redis_rarely(make_broker):
    consumer = make_broker().consume("q", prefetch=1, timeout=1_000)
    fetches = []
    fetch = consumer.broker.do_fetch
    consumer.broker.do_fetch = lambda *a: fetches.append(1) or fetch(*a)
    started = time.monotonic()
    while time.monotonic() - started < 2:
        assert next(consumer) is None
    # back-off from 5 ms to the 1 s cap: about ten polls, where a 100 ms cap made over twenty
    assert len(fetches) <= 12


def test_a_delay_queue_consumer_waits_longer_yet_takes_a_delayed_job_at_once(make_broker):
    broker = make_broker()
    consumer = broker.consume(dq_name("q"), prefetch=1, timeout=1_000)
    assert consumer.idle_ms == IDLE_DELAY_POLL_MS > 1_000
    consumer.idle_misses = 20  # long idle: each wait now lasts the whole IDLE_DELAY_POLL_MS
    _later(0.3, lambda: make_broker().enqueue(_message(3), delay=60_000))
    got, after_s = _next_message(consumer, 4)
    assert got is not None and got.args == (3,)
    assert after_s < 2.0


@settings(max_examples=200, deadline=None)
@given(garbage=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_a_ring_wakes_only_the_queue_it_names_and_creates_nothing(garbage):
    doorbell = Doorbell(redis.Redis.from_url(REDIS_URL), "serbero-doorbell-unit")
    bell = doorbell.event("q")
    doorbell._woken(garbage)
    assert bell.is_set() == (garbage in (b"q", "q"))
    assert set(doorbell._events) == {"q"}


def test_the_subscriber_survives_garbage_and_still_wakes(make_broker):
    broker = make_broker()
    consumer = broker.consume("q", prefetch=1, timeout=LONG_IDLE_MS)
    consumer.idle_misses = 20
    time.sleep(0.2)  # subscribed
    for garbage in (b"\xff\xfe\x00", b"", b"x" * 100_000, "q\u202e".encode()):
        broker.client.publish(broker.doorbell.channel, garbage)
    _later(0.3, lambda: make_broker().enqueue(_message(3)))
    got, after_s = _next_message(consumer, 4)
    assert got is not None and got.args == (3,)
    assert after_s < 2.0
