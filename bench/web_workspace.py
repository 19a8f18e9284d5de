"""A seeded workspace for the web view's bench and screenshots: a configuration file, a
database (an SQLite file, or a PostgreSQL schema of its own) holding `web_seed`'s rows, and a
real `serbero dashboard` process serving it. Everything it creates it removes on exit.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import web_seed
from serbero.db import migrate, open_database

TOKEN = "bench-web-view-token-0123456789"
ROOT = Path(__file__).parents[1]
PG_URL = os.environ.get("SERBERO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Workspace:
    url: str
    ids: list[str]
    now: int


@contextlib.contextmanager
def _database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'serbero.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = open_database(PG_URL, bind=False)
    admin.execute_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def _config(directory: Path) -> Path:
    solvers = "".join(f'[[solvers]]\npubkey = "{pk}"\npermission = "{perm}"\n' for pk, perm in
                      zip(web_seed.SOLVERS, ("write", "write", "read"), strict=True))
    path = directory / "config.toml"
    path.write_text(f'[serbero]\nprivate_key = "{web_seed.SERBERO_SECRET}"\n'
                    f'db_path = "{directory / "serbero.db"}"\n'
                    f'[mostro]\npubkey = "{web_seed.MOSTRO}"\n'
                    f'[[relays]]\nurl = "ws://127.0.0.1:9"\n{solvers}')
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def workspace(disputes: int, *, backend: str = "sqlite") -> Iterator[Workspace]:
    """A dashboard serving `disputes` seeded disputes, its base URL and the disputes' ids."""
    with tempfile.TemporaryDirectory(prefix="serbero-web-") as tmp, \
            _database(backend, Path(tmp)) as db_url:
        db = open_database(db_url)
        migrate(db)
        now = int(time.time())
        ids = web_seed.seed(disputes, now=now)
        db.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERBERO_")}
        env.update(SERBERO_DB_URL=db_url, SERBERO_DASHBOARD_TOKEN=TOKEN, SERBERO_LOG="warning")
        proc = subprocess.Popen(
            [sys.executable, "-m", "serbero", "dashboard", "-c", str(_config(Path(tmp))),
             "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            if " on http://" not in line:
                raise RuntimeError(f"the dashboard did not start: {line!r}")
            yield Workspace(line.split(" on ", 1)[1].split()[0].rstrip("/"), ids, now)
        finally:
            proc.terminate()
            proc.wait(10)
