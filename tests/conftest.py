"""Shared fixtures: real Redis, real in-process relays, real keys, SQLite files and PostgreSQL.

Infrastructure that is missing is skipped on a laptop and fails under CI (CI=true). Redis is
the one at 127.0.0.1:6379, or one started here when none answers and redis-server exists.
Each test session uses its own Redis namespace, so parallel runs never see each other's jobs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PG_URL = os.environ.get("SERBERO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis() -> tuple[str | None, subprocess.Popen[bytes] | None]:
    """The URL of a Redis to test against, starting a private one if needed."""
    if _answers(REDIS_HOST, REDIS_PORT):
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/0", None
    server = shutil.which("redis-server")
    if server is None:
        return None, None
    port = _free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if _answers("127.0.0.1", port):
            return f"redis://127.0.0.1:{port}/0", proc
        time.sleep(0.05)
    proc.kill()
    return None, None


# Actors bind to the broker when their module is imported, so this session's broker (its own
# Redis namespace) is installed here, at collection time, before any test module imports an
# actor. The environment is set too, for the processes tests start.
REDIS_URL, _REDIS_PROC = _start_redis()
NAMESPACE = f"serbero-test-{uuid.uuid4().hex[:8]}"
os.environ["SERBERO_REDIS_NAMESPACE"] = NAMESPACE
if REDIS_URL:
    os.environ["SERBERO_REDIS_URL"] = REDIS_URL
else:
    os.environ.pop("SERBERO_REDIS_URL", None)
os.environ["dramatiq_worker_timeout"] = "50"


def _install_broker() -> None:
    from serbero.config import ServiceSettings
    from serbero_workers import wiring

    wiring.install(ServiceSettings(redis_url=REDIS_URL, redis_namespace=NAMESPACE))


_install_broker()


def need(condition: bool, what: str) -> None:
    if not condition:
        if IN_CI:
            pytest.fail(f"{what} is required under CI but is not available")
        pytest.skip(f"{what} not available")


def run_serbero(*args: str, env: dict[str, str] | None = None, timeout_s: float = 60,
                cwd: Path | None = None,
                stop_when: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `serbero` command as an operator would: its own process, an environment
    without this session's SERBERO_* variables (plus `env`), output captured as text. A daemon
    is sent SIGTERM once `stop_when` shows in its stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SERBERO_")}
    argv = [sys.executable, "-m", "serbero", *args]
    if stop_when is None:
        return subprocess.run(argv, env={**clean, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout_s, cwd=cwd, check=False)
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, env={**clean, **(env or {})}, cwd=cwd, text=True,
                                stdout=subprocess.PIPE, stderr=err)
        deadline = time.monotonic() + timeout_s
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                err.seek(0)
                if stop_when in err.read():
                    break
                time.sleep(0.05)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        err.seek(0)
        return subprocess.CompletedProcess(argv, proc.returncode, out, err.read())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REDIS_URL:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{NAMESPACE}*", count=1000))
        if keys:
            client.delete(*keys)
    if _REDIS_PROC is not None:
        _REDIS_PROC.terminate()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands run in-process call `logs.setup`, which replaces the root handlers and levels
    and installs exception hooks; put everything back so one test's logging never decides what
    the next test's `caplog` sees."""
    import logging
    import sys
    import threading

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: lg.level for name, lg in logging.root.manager.loggerDict.items()
              if isinstance(lg, logging.Logger)}
    hooks = sys.excepthook, threading.excepthook
    yield
    root.handlers[:], root.level = handlers, level
    for name, lg in logging.root.manager.loggerDict.items():
        if isinstance(lg, logging.Logger):
            lg.setLevel(levels.get(name, logging.NOTSET))
    sys.excepthook, threading.excepthook = hooks


# ---------------------------------------------------------------- nostr: loop, relay, people


@pytest.fixture(scope="session")
def nostr_loop() -> Iterator[Any]:
    """One background event loop for the test's relays and simulated peers."""
    from serbero.nostr.loop import LoopThread

    loop = LoopThread("test-nostr")
    yield loop
    loop.stop()


@pytest.fixture
def relay(nostr_loop: Any) -> Iterator[str]:
    """A fresh in-process relay; its ws:// URL."""
    from serbero.simulators.relay import start_relay

    local, url = nostr_loop.run(start_relay(), 10)
    yield url
    local.shutdown()


@pytest.fixture
def mostro(nostr_loop: Any, relay: str) -> Iterator[Any]:
    """A simulated Mostro node connected to the relay."""
    from serbero.simulators.mostro_node import MostroNode

    node = nostr_loop.run(MostroNode().connect([relay]), 10)
    yield node
    nostr_loop.run(node.shutdown(), 10)


def _inbox(nostr_loop: Any, relay: str, name: str) -> Iterator[Any]:
    from serbero.simulators.solver_inbox import SolverInbox

    inbox = nostr_loop.run(SolverInbox(name=name).connect([relay]), 10)
    yield inbox
    nostr_loop.run(inbox.shutdown(), 10)


@pytest.fixture
def solver_ana(nostr_loop: Any, relay: str) -> Iterator[Any]:
    """A read-write solver with a real key and an inbox that decrypts her DMs."""
    yield from _inbox(nostr_loop, relay, "ana")


@pytest.fixture
def solver_bo(nostr_loop: Any, relay: str) -> Iterator[Any]:
    """A read solver."""
    yield from _inbox(nostr_loop, relay, "bo")


# ---------------------------------------------------------------- configuration and storage


@pytest.fixture
def serbero_keys() -> Any:
    from nostr_sdk import Keys

    return Keys.generate()


@pytest.fixture
def notice_format() -> str:
    """The form of solver messages in a test's settings; a module that pins the original's
    NIP-17 texts overrides it with "nip17-original"."""
    return "mostro-v2"


@pytest.fixture
def make_settings(tmp_path: Path, serbero_keys: Any, notice_format: str) -> Callable[..., Any]:
    """Settings for a test: `make_settings(relays=[url], mostro=pk, solvers=[inbox|str|entry],
    observers=[inbox|str], webhooks=[entry], env={…}, sections={"mediation": {…}}, …)`."""
    from serbero import config

    def make(*, relays: list[str] | None = None, mostro: str | None = None,
             solvers: list[Any] = (), timeouts: dict[str, Any] | None = None,
             db_url: str | None = None, observers: list[Any] = (),
             webhooks: list[dict[str, Any]] = (), env: dict[str, str] | None = None,
             sections: dict[str, Any] | None = None) -> Any:
        from nostr_sdk import Keys

        doc = {
            "serbero": {"private_key": serbero_keys.secret_key().to_hex(),
                        "db_path": str(tmp_path / "serbero.db")},
            "mostro": {"pubkey": mostro or Keys.generate().public_key().to_hex()},
            "relays": [{"url": u} for u in (relays or ["ws://127.0.0.1:9"])],
            "solvers": [s if isinstance(s, dict) else
                        {"pubkey": s if isinstance(s, str) else s.pubkey,
                         "permission": "write" if i == 0 else "read"}
                        for i, s in enumerate(solvers)],
            "timeouts": timeouts or {},
            "notifications": {"format": notice_format},
            "observers": [{"pubkey": o if isinstance(o, str) else o.pubkey} for o in observers],
            "webhooks": list(webhooks),
            **(sections or {}),
        }
        environ = {**(env or {}), **({"SERBERO_DB_URL": db_url} if db_url else {})}
        return config.from_mapping(doc, environ).replace(
            redis_url=REDIS_URL, redis_namespace=NAMESPACE)
    return make


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that run the daemon (they use `make_runtime`, or ask for `backend`) run on SQLite
    and on PostgreSQL; other tests that need a database get SQLite."""
    if "make_runtime" in metafunc.fixturenames or "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A migrated database bound to the models, with its URL in `.url`: an SQLite file (not
    `:memory:`, which is per-thread), or a PostgreSQL schema of its own for the `postgres`
    backend."""
    from serbero.config import sqlite_url
    from serbero.db import migrate, open_database

    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "postgres":
        yield request.getfixturevalue("pg_db")
        return
    url = sqlite_url(tmp_path / "serbero.db")
    database = open_database(url)
    migrate(database)
    database.url = url
    yield database
    database.close()


@contextmanager
def pg_schema() -> Iterator[str]:
    """The URL of an empty PostgreSQL schema of its own, dropped afterwards."""
    from serbero.db import open_database

    need(_answers("127.0.0.1", 5432), "PostgreSQL at 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = open_database(PG_URL, bind=False)
    admin.execute_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def pg_db() -> Iterator[Any]:
    """A migrated PostgreSQL schema of its own, dropped afterwards."""
    from serbero.db import migrate, open_database

    with pg_schema() as url:
        database = open_database(url)
        migrate(database)
        database.url = database.pg_url = url
        yield database
        database.close()


# ---------------------------------------------------------------- broker and workers


@pytest.fixture
def redis_client() -> Any:
    need(REDIS_URL is not None, "Redis")
    import redis

    return redis.Redis.from_url(REDIS_URL)


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        """Start (or start again, on the same port, empty) the server."""
        self.proc = subprocess.Popen([self.server, "--port", str(self.port), "--bind",
                                      "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not _answers("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A private Redis to stop: tests of a Redis outage never touch the shared one."""
    server = shutil.which("redis-server")
    need(server is not None, "redis-server")
    redis = PrivateRedis(server)
    yield redis
    redis.stop()


@pytest.fixture
def broker(redis_client: Any) -> Iterator[Any]:
    """The project's Redis broker, emptied before and after the test."""
    from serbero_workers import wiring

    installed = wiring.broker()
    installed.flush_all()
    yield installed
    installed.flush_all()


@pytest.fixture
def make_runtime(make_settings: Callable[..., Any], backend: str, db: Any, relay: str,
                 mostro: Any) -> Iterator[Callable[..., Any]]:
    """`make_runtime(solvers=[...], timeouts={...})`: Serbero's runtime on the test relay,
    installed for actors; closed at the end of the test."""
    from serbero.runtime import Runtime
    from serbero_workers.wiring import install_runtime

    opened = []

    def make(*, solvers: list[Any], timeouts: dict[str, Any] | None = None,
             relays: list[str] | None = None, **more: Any) -> Any:
        rt = Runtime.open(make_settings(relays=relays or [relay], mostro=mostro.pubkey,
                                        solvers=solvers, timeouts=timeouts, db_url=db.url,
                                        **more))
        install_runtime(rt)
        opened.append(rt)
        return rt
    yield make
    install_runtime(None)
    for rt in opened:
        rt.relay.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., Any], solver_ana: Any, solver_bo: Any) -> Any:
    """Serbero's runtime with Ana (write) and Bo (read) as solvers."""
    return make_runtime(solvers=[solver_ana, solver_bo])


def via(relays: Any) -> dict[str, Any]:
    """The outbox's channels with `relays` (the bridge, or a test double) as the nostr one."""
    from serbero.outbox.nostr import NostrChannel

    return {"nostr": NostrChannel(relays)}


class OneAtATime:
    """Test doubles of the relay bridge implement `publish(event_json)`; this gives them the
    bridge's `publish_many`, one event at a time."""

    def publish_many(self, event_jsons: list[str]) -> list[Any]:
        from serbero.errors import PublishError

        results: list[Any] = []
        for raw in event_jsons:
            try:
                results.append(self.publish(raw))  # type: ignore[attr-defined]
            except PublishError as exc:
                results.append(exc)
        return results


class Driver:
    """Runs the daemon's steps in the test's thread, as a worker would, without a broker."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt

    def ingest(self, event: Any, now: int | None = None) -> Any:
        from serbero import clock
        from serbero.disputes import ingest

        raw = event if isinstance(event, str) else event.as_json()
        now = clock.now() if now is None else now
        result = ingest.ingest(raw, settings=self.rt.settings, signer=self.rt.signer, now=now)
        self.publish(result.outbox_ids, now)
        return result

    def publish(self, outbox_ids: Any, now: int | None = None) -> list[str]:
        from serbero import clock, outbox

        now = clock.now() if now is None else now
        return [outbox.publish(i, channels=self.rt.channels, settings=self.rt.settings, now=now)
                for i in outbox_ids]

    def tick(self, name: str, now: int) -> list[int]:
        from serbero import ticks

        ids = list(ticks.run(name, self.rt, now).outbox_ids)
        self.publish(ids, now)
        return ids


@pytest.fixture
def driver(runtime: Any) -> Driver:
    return Driver(runtime)


@pytest.fixture
def worker(broker: Any, runtime: Any) -> Iterator[Any]:
    """An in-process dramatiq worker on the Redis broker."""
    import dramatiq

    w = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    w.start()
    yield w
    w.stop()
