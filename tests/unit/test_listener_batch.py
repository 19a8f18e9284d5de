"""The listener's batches (`serbero.listener.batch`): a lone event goes at once, a burst goes as
few jobs of at most MAX_EVENTS, an event is marked seen only once its batch is enqueued, and a
batch that cannot be enqueued marks nothing and says how many events it held."""

from __future__ import annotations

import asyncio

import redis

from serbero.dedup import LocalSeen
from serbero.listener.batch import MAX_EVENTS, WINDOW_S, Batcher


class Queue:
    """Stands for the broker: records each batch, or fails as Redis does when down."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    def send(self, raws: list[str]) -> None:
        if self.fail is not None:
            raise self.fail
        self.batches.append(raws)


def run(scenario) -> None:
    asyncio.run(scenario())


def test_a_lone_event_is_enqueued_at_once_and_marked_seen():
    queue, seen, errors = Queue(), LocalSeen(), []

    async def scenario():
        batcher = Batcher(queue.send, seen=seen, on_error=lambda e, n: errors.append(n))
        batcher.add("a", "raw-a")
        assert queue.batches == [["raw-a"]]
        assert seen.seen("a")
        await asyncio.sleep(WINDOW_S * 3)
        batcher.add("b", "raw-b")  # the window has passed: at once again
        assert queue.batches == [["raw-a"], ["raw-b"]]

    run(scenario)
    assert errors == []


def test_events_arriving_within_the_window_share_one_job():
    queue, seen = Queue(), LocalSeen()

    async def scenario():
        batcher = Batcher(queue.send, seen=seen, on_error=lambda e, n: None)
        for i in range(6):
            batcher.add(f"e{i}", f"raw-{i}")
        assert queue.batches == [["raw-0"]]  # the first went at once; the rest wait
        assert not seen.seen("e1")  # not enqueued yet, so not seen
        await asyncio.sleep(WINDOW_S * 3)
        assert queue.batches == [["raw-0"], [f"raw-{i}" for i in range(1, 6)]]
        assert all(seen.seen(f"e{i}") for i in range(6))

    run(scenario)


def test_a_full_batch_goes_without_waiting():
    queue = Queue()

    async def scenario():
        batcher = Batcher(queue.send, seen=LocalSeen(), on_error=lambda e, n: None)
        batcher.add("first", "raw-first")
        for i in range(MAX_EVENTS):
            batcher.add(f"e{i}", f"raw-{i}")
        assert [len(b) for b in queue.batches] == [1, MAX_EVENTS]

    run(scenario)


def test_the_same_event_twice_in_the_window_is_sent_once():
    queue = Queue()

    async def scenario():
        batcher = Batcher(queue.send, seen=LocalSeen(), on_error=lambda e, n: None)
        batcher.add("first", "raw-first")
        batcher.add("x", "raw-x")
        batcher.add("x", "raw-x")  # from a second relay
        batcher.flush()

    run(scenario)
    assert queue.batches == [["raw-first"], ["raw-x"]]


def test_a_batch_that_cannot_be_enqueued_marks_nothing_and_reports_its_size():
    down = redis.ConnectionError("Connection refused")
    queue, seen, errors = Queue(fail=down), LocalSeen(), []

    async def scenario():
        batcher = Batcher(queue.send, seen=seen,
                          on_error=lambda exc, n: errors.append((exc, n)))
        batcher.add("a", "raw-a")
        batcher.add("b", "raw-b")
        batcher.add("c", "raw-c")
        batcher.flush()
        assert batcher.pending == []

    run(scenario)
    assert errors == [(down, 1), (down, 2)]
    assert not any(seen.seen(e) for e in "abc")


def test_flush_with_nothing_pending_sends_nothing():
    queue = Queue()

    async def scenario():
        Batcher(queue.send, seen=LocalSeen(), on_error=lambda e, n: None).flush()

    run(scenario)
    assert queue.batches == []
