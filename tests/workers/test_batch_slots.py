"""Dispute batches wait for one of two slots per worker process on SQLite, whose one writer
makes more batches at once only queue on its lock; on PostgreSQL nothing holds them back."""

from __future__ import annotations

import threading

from serbero_workers import wiring


def test_at_most_two_batches_at_once_on_sqlite_and_no_limit_on_postgres(runtime, backend):
    holders = [wiring.batch_slot() for _ in range(wiring.SQLITE_BATCH_SLOTS)]
    for slot in holders:
        slot.__enter__()
    try:
        third = threading.Event()

        def one_more() -> None:
            with wiring.batch_slot():
                third.set()

        thread = threading.Thread(target=one_more, daemon=True)
        thread.start()
        got_in = third.wait(0.5)
    finally:
        for slot in holders:
            slot.__exit__(None, None, None)
    thread.join(5)
    assert third.is_set()  # released: the waiting batch went on
    assert got_in is (backend == "postgres")
