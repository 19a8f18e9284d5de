"""The listener's batches (`serbero.listener.batch`): a lone event goes at once, a burst goes as
few jobs of at most MAX_EVENTS, an event is marked seen only once its batch is enqueued, and a
batch that cannot be enqueued marks nothing and says how many events it held."""

from __future__ import annotations

import asyncio

import pytest
import redis

from serbero.dedup import LocalSeen
from serbero.listener.batch import MAX_EVENTS, WINDOW_S, Batcher

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the listener's loop


class Queue:
    """Stands for the broker: records each batch, or fails as Redis does when down."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.errors: list[tuple[Exception, int]] = []
        self.seen = LocalSeen()
        self.fail = fail

    def send(self, raws: list[str]) -> None:
        if self.fail is not None:
            raise self.fail
        self.batches.append(raws)

    def batcher(self) -> Batcher:
        return Batcher(self.send, seen=self.seen,
                       on_error=lambda exc, events: self.errors.append((exc, events)))


async def test_a_lone_event_is_enqueued_at_once_and_marked_seen():
    queue = Queue()
    batcher = queue.batcher()
    batcher.add("a", "raw-a")
    assert queue.batches == [["raw-a"]]
    assert queue.seen.seen("a")
    await asyncio.sleep(WINDOW_S * 3)
    batcher.add("b", "raw-b")  # the window has passed: at once again
    assert queue.batches == [["raw-a"], ["raw-b"]]
    assert queue.errors == []


async def test_events_arriving_within_the_window_share_one_job():
    queue = Queue()
    batcher = queue.batcher()
    for i in range(6):
        batcher.add(f"e{i}", f"raw-{i}")
    assert queue.batches == [["raw-0"]]  # the first went at once; the rest wait
    assert not queue.seen.seen("e1")  # not enqueued yet, so not seen
    await asyncio.sleep(WINDOW_S * 3)
    assert queue.batches == [["raw-0"], [f"raw-{i}" for i in range(1, 6)]]
    assert all(queue.seen.seen(f"e{i}") for i in range(6))


async def test_a_full_batch_goes_without_waiting():
    queue = Queue()
    batcher = queue.batcher()
    batcher.add("first", "raw-first")
    for i in range(MAX_EVENTS):
        batcher.add(f"e{i}", f"raw-{i}")
    assert [len(b) for b in queue.batches] == [1, MAX_EVENTS]


async def test_the_same_event_twice_in_the_window_is_sent_once():
    queue = Queue()
    batcher = queue.batcher()
    added = [batcher.add(event_id, f"raw-{event_id}")
             for event_id in ("first", "x", "x")]  # the second x from another relay
    batcher.flush()
    assert added == [True, True, False]
    assert queue.batches == [["raw-first"], ["raw-x"]]


async def test_a_batch_that_cannot_be_enqueued_marks_nothing_and_reports_its_size():
    down = redis.ConnectionError("Connection refused")
    queue = Queue(fail=down)
    batcher = queue.batcher()
    for event_id in "abc":
        batcher.add(event_id, f"raw-{event_id}")
    batcher.flush()
    assert batcher.pending == []
    assert queue.errors == [(down, 1), (down, 2)]
    assert not any(queue.seen.seen(e) for e in "abc")


async def test_flush_with_nothing_pending_sends_nothing():
    queue = Queue()
    queue.batcher().flush()
    assert queue.batches == []
