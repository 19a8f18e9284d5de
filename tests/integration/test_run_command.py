"""`serbero run` as an operator starts it: one process, embedded broker, SQLite; a SIGTERM saves
the cursor and exits cleanly, and a restart catches up on what happened while it was down."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serbero.db.models import Dispute, ListenerCursor
from tests.integration.test_race import write_config

#: TST-P1-DUP asks for a clean stop within 2 s; allow for a loaded CI machine.
STOP_WITHIN_S = 5


def start_run(config_path: Path, db_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERBERO_")}
    env.update(SERBERO_CONFIG=str(config_path), SERBERO_DB_PATH=str(db_path),
               SERBERO_LOG="warning")
    return subprocess.Popen([sys.executable, "-m", "serbero", "run"], env=env,
                            stderr=subprocess.PIPE, text=True)


def stop_run(proc: subprocess.Popen) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return time.monotonic() - started


@pytest.mark.slow
def test_run_survives_a_restart_without_losing_or_repeating(nostr_loop, relay, mostro,
                                                            solver_ana, make_settings, db,
                                                            tmp_path):
    settings = make_settings(relays=[relay], mostro=mostro.pubkey, solvers=[solver_ana])
    config_path = write_config(tmp_path / "config.toml", settings)
    db_path = Path(db.database)
    proc = start_run(config_path, db_path)
    try:
        first = nostr_loop.run(mostro.open_dispute(), 10)
        nostr_loop.run(solver_ana.wait_for(1, first, timeout=20), 30)
    finally:
        took = stop_run(proc)
    assert proc.returncode == 0, proc.stderr.read()
    assert took < STOP_WITHIN_S
    # saved, and never past an event a worker has not applied, nor past an unfinished catch-up
    assert ListenerCursor.get_by_id("disputes").since <= Dispute.get_by_id(first).event_timestamp

    second = nostr_loop.run(mostro.open_dispute(), 10)  # while Serbero is down
    proc = start_run(config_path, db_path)
    try:
        nostr_loop.run(solver_ana.wait_for(1, second, timeout=20), 30)
        time.sleep(1.0)
    finally:
        stop_run(proc)
    assert proc.returncode == 0
    assert len(solver_ana.texts(first)) == 1 and len(solver_ana.texts(second)) == 1
    assert Dispute.select().where(Dispute.lifecycle_state == "notified").count() == 2


def test_run_with_a_bad_config_exits_2_naming_the_problem(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[serbero]\nprivate_key = 'nope'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERBERO_")}
    result = subprocess.run([sys.executable, "-m", "serbero", "run", "-c", str(path)],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "config error: [serbero].private_key: not a valid secret key" in result.stderr
    assert "nope" not in result.stderr
