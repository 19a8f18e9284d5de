"""What a deployment on SQLite keeps out of its processes (issue 8, item 6: idle memory): the
PostgreSQL driver, which peewee would import on its own, and httpx, which only webhooks and
mediation use. Checked in the real `serbero listen` and `serbero worker` processes, started as an
operator starts them, and in the rule itself, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from serbero.simulators.mostro_node import MostroNode
from tests.conftest import PG_URL, REDIS_URL
from tests.integration.daemons import Daemon
from tests.integration.test_pipeline import wait_until
from tests.ops.conftest import write_config


def mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir()
            for child in (task / "children").read_text().split()]


def test_the_listener_and_worker_processes_on_sqlite_load_no_postgres_driver(
        make_settings, relay, tmp_path):
    settings = make_settings(relays=[relay], mostro=MostroNode().pubkey)
    config = write_config(tmp_path / "config.toml", settings)
    env = {"SERBERO_REDIS_URL": REDIS_URL,
           "SERBERO_REDIS_NAMESPACE": f"serbero-footprint-{uuid.uuid4().hex[:8]}",
           "SERBERO_LOG": "info"}
    listener = Daemon("listen", "-c", str(config), env=env)
    worker = Daemon("worker", "-c", str(config), "-p", "1", "-t", "1", env=env)
    try:
        listener.wait_for("subscribed")
        worker.wait_for("worker_process_ready")
        wait_until(lambda: children(worker.pid))
        [process] = children(worker.pid)
        for pid in (listener.pid, process):
            maps = mapped(pid)
            assert "libsqlite3" in maps or "_sqlite3" in maps
            assert "psycopg" not in maps and "libpq" not in maps
    finally:
        for daemon in (listener, worker):
            daemon.stop()
            daemon.close()


def _imports(db_url: str) -> str:
    script = ("import sys\nfrom serbero import drivers\n"
              f"drivers.load_only_needed({db_url!r})\n"
              "import peewee\nfrom serbero.db import open_database\n"
              f"db = open_database({db_url!r})\nprint(db.execute_sql('select 1').fetchone()[0],"
              " peewee.psycopg is not None, 'httpx' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_on_sqlite_peewee_finds_no_postgres_driver_and_works(tmp_path):
    assert _imports(f"sqlite:///{tmp_path / 'x.db'}") == ["1", "False", "False"]


@pytest.mark.postgres
def test_on_postgres_the_driver_is_loaded_as_usual():
    assert _imports(PG_URL) == ["1", "True", "False"]


def test_a_process_that_imported_peewee_already_is_left_as_it_is(tmp_path):
    script = ("import sys, peewee\nfrom serbero import drivers\n"
              f"drivers.load_only_needed('sqlite:///{tmp_path / 'x.db'}')\n"
              "print(sys.modules.get('psycopg') is not None)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"]
