"""Race: two worker processes, four threads each, fed the same events give one effect per event,
each copy a job of its own or in a batch with others.

Every event is enqueued three times and the copies race through separate processes; the
database must still hold one dispute, one transition per move and one notice per solver per
move, and each solver must decrypt each notice exactly once. Runs on SQLite and PostgreSQL.
"""

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from serbero.db.models import Dispute, Notification, Outbox, ProcessedInput, Transition
from serbero_workers import actors
from tests.conftest import NAMESPACE, REDIS_URL, need

DISPUTES = 12
COPIES = 3


def write_config(path: Path, settings) -> Path:
    solvers = "".join(f'[[solvers]]\npubkey = "{s.pubkey}"\npermission = "{s.permission}"\n'
                      for s in settings.solvers)
    relays = "".join(f'[[relays]]\nurl = "{u}"\n' for u in settings.relays)
    path.write_text(
        f'[serbero]\nprivate_key = "{settings.private_key.reveal()}"\n'
        f'[mostro]\npubkey = "{settings.mostro_pubkey}"\n{relays}{solvers}')
    path.chmod(0o600)
    return path


def start_workers(config_path: Path, db_url: str, count: int = 2) -> list[subprocess.Popen]:
    env = {**os.environ, "SERBERO_CONFIG": str(config_path), "SERBERO_DB_URL": db_url,
           "SERBERO_REDIS_URL": REDIS_URL, "SERBERO_REDIS_NAMESPACE": NAMESPACE,
           "SERBERO_LOG": "warning"}
    return [subprocess.Popen([sys.executable, "-m", "dramatiq", "serbero_workers.wiring:boot",
                              "-p", "1", "-t", "4",
                              "--skip-logging"], env=env, cwd=Path(__file__).parents[2])
            for _ in range(count)]


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_until(predicate, timeout=60.0, procs=()):
    deadline = time.monotonic() + timeout
    while not predicate():
        for p in procs:
            assert p.poll() is None, f"worker exited with {p.returncode}"
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def burst(events) -> None:
    """Every event COPIES times, shuffled, each copy either a job of its own or in a batch of
    up to six (as the listener hands a burst over): copies of one event race through both
    paths, and may share a batch."""
    copies = [e.as_json() for e in events for _ in range(COPIES)]
    random.shuffle(copies)
    while copies:
        size = random.choice((1, 1, 2, 3, 6))
        if size == 1:
            actors.ingest_dispute_event.send(copies.pop())
        else:
            actors.ingest_dispute_events.send(copies[:size])
            copies = copies[size:]


@pytest.mark.slow
def test_two_worker_processes_give_one_effect_per_event(nostr_loop, mostro, solver_ana,
                                                        solver_bo, make_settings, relay, broker,
                                                        backend, db, tmp_path):
    need(REDIS_URL is not None, "Redis")
    settings = make_settings(relays=[relay], mostro=mostro.pubkey,
                             solvers=[solver_ana, solver_bo])
    procs = start_workers(write_config(tmp_path / "config.toml", settings), db.url)
    ids = [str(uuid.uuid4()) for _ in range(DISPUTES)]
    try:
        phases = [
            ("initiated", lambda d: mostro.revision(d, "initiated"), "notified"),
            ("in-progress", lambda d: mostro.revision(d, "in-progress", solver=solver_bo.pubkey),
             "taken"),
            ("settled", lambda d: mostro.revision(d, "settled"), "resolved"),
        ]
        for _, make_event, state in phases:
            burst([make_event(d) for d in ids])
            wait_until(lambda state=state: Dispute.select().where(
                Dispute.lifecycle_state == state).count() == DISPUTES, procs=procs)
            wait_until(lambda: Outbox.select().where(Outbox.status == "pending").count() == 0,
                       procs=procs)
        for inbox in (solver_ana, solver_bo):
            nostr_loop.run(inbox.wait_for(3 * DISPUTES, timeout=30), 40)
        nostr_loop.run(asyncio.sleep(1.0), 5)
    finally:
        stop_workers(procs)

    assert Dispute.select().count() == DISPUTES
    assert ProcessedInput.select().count() == 3 * DISPUTES
    for dispute_id in ids:
        moves = [(t.from_state, t.to_state) for t in Transition.select()
                 .where(Transition.dispute == dispute_id).order_by(Transition.id)]
        assert moves == [(None, "new"), ("new", "notified"), ("notified", "taken"),
                         ("taken", "resolved")]
    for notif_type in ("initial", "assignment", "resolution"):
        assert Notification.select().where((Notification.notif_type == notif_type)
                                           & (Notification.status == "sent")).count() == \
            2 * DISPUTES
    for inbox in (solver_ana, solver_bo):
        assert len(inbox.messages) == 3 * DISPUTES
        assert len({m.text for m in inbox.messages}) == 3 * DISPUTES
