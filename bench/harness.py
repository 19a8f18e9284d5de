"""The benchmark's plumbing: a private workspace (config, database, logs, Redis namespace), the
daemon's processes, and what the bench reads from outside them (/proc, Redis, the database, the
logs). Everything it creates it also removes, however the run ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import redis

#: Prepended to every child: dies with the bench (PR_SET_PDEATHSIG), then execs the command.
#: Done in the child rather than with preexec_fn, which is unsafe with the relay's threads.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
#: Names the process that owns a bench namespace in Redis, so a later run can sweep it.
OWNER_KEY = "bench-owner"
#: How long a daemon process may take to stop after SIGTERM before it is killed.
STOP_GRACE_S = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
_LOG_LINE = re.compile(
    r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \w+ \S+ ("(?:[^"\\]|\\.)*"|\S+)(.*)$')
_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_bin(name: str) -> str:
    """A console script installed next to this Python (the venv's `serbero`)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


# ---------------------------------------------------------------- processes


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path | None

    @property
    def pid(self) -> int:
        return self.proc.pid


def spawn(name: str, argv: list[str], *, env: dict[str, str], log_path: Path | None,
          cwd: Path, stdin: int | None = None, stdout: int | None = None) -> Child:
    """Start a child in its own process group; it gets SIGTERM if the bench dies.

    `cwd` matters: `python -m dramatiq …` puts the working directory first on sys.path,
    so started from a checkout it would import that checkout's code whatever PYTHONPATH says.
    """
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv], env=env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else out, stderr=out, start_new_session=True,
            cwd=cwd)
    finally:
        if log_path:
            out.close()
    return Child(name, proc, log_path)


@contextlib.contextmanager
def paused(child: Child):
    """SIGSTOP the child's process group for the block, SIGCONT it after."""
    os.killpg(child.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGCONT)


def stop(child: Child, grace_s: float = STOP_GRACE_S) -> int | None:
    """SIGTERM the child's process group, wait, then SIGKILL it; return the exit code."""
    if child.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.proc.wait(5)
    # Orphans of the group (a worker whose master died first) go too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    return child.proc.returncode


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB (MiB), from /proc/<pid>/status."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def machine_busy_seconds() -> float:
    """CPU time used by every process on the machine (all CPUs), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------- workspace


@dataclass
class Workspace:
    """A temporary directory, a Redis namespace and (optionally) a PostgreSQL schema."""

    redis_url: str
    pg_url: str | None = None
    keep: bool = False
    namespace: str = field(default_factory=lambda: f"serbero-bench-{uuid.uuid4().hex[:10]}")
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="serbero-bench-")))
    pg_schema: str | None = None

    db_url: str = ""

    def __post_init__(self) -> None:
        self.redis = redis.Redis.from_url(self.redis_url)
        self.redis.ping()
        self.swept = self.sweep_stale()
        self.redis.set(f"{self.namespace}:{OWNER_KEY}", f"{socket.gethostname()}:{os.getpid()}")
        if self.pg_url is None:
            self.db_url = f"sqlite:///{self.root / 'serbero.db'}"
            return
        from serbero.db import open_database

        self.pg_schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = open_database(self.pg_url, bind=False)
        admin.execute_sql(f"CREATE SCHEMA {self.pg_schema}")
        admin.close()
        sep = "&" if "?" in self.pg_url else "?"
        self.db_url = f"{self.pg_url}{sep}options={quote(f'-csearch_path={self.pg_schema}')}"

    def write_config(self, *, serbero_secret: str, mostro: str, relay: str,
                     solvers: list[str], dispatch_interval_s: int = 30,
                     notice_format: str | None = None, extra: str = "") -> Path:
        lines = ["[serbero]", f'private_key = "{serbero_secret}"',
                 f'db_path = "{self.root / "serbero.db"}"', 'log_level = "info"', "",
                 "[mostro]", f'pubkey = "{mostro}"', "", "[[relays]]", f'url = "{relay}"', ""]
        for i, pk in enumerate(solvers):
            lines += ["[[solvers]]", f'pubkey = "{pk}"',
                      f'permission = "{"write" if i == 0 else "read"}"', ""]
        # No reminder may go out during the run: only initial notices are counted.
        lines += ["[timeouts]", "renotification_seconds = 86400",
                  "renotification_check_interval_seconds = 3600", ""]
        # The escalation dispatcher runs its cycle during the whole run (issue 4 asks that the
        # targets hold with it running); it finds no handoff, as in a quiet deployment.
        lines += ["[escalation]", "enabled = true",
                  f"dispatch_interval_seconds = {dispatch_interval_s}", ""]
        if notice_format is not None:
            lines += ["[notifications]", f'format = "{notice_format}"', ""]
        path = self.root / "config.toml"
        path.write_text("\n".join(lines) + extra)
        path.chmod(0o600)
        return path

    def env(self, config: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERBERO_")}
        env.update(SERBERO_CONFIG=str(config), SERBERO_REDIS_URL=self.redis_url,
                   SERBERO_REDIS_NAMESPACE=self.namespace, SERBERO_DB_URL=self.db_url)
        # A/B runs: the daemon's processes import a candidate change while the bench process
        # (relay, inboxes, Mostro node) keeps the code it was started with.
        if os.environ.get("BENCH_DAEMON_PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["BENCH_DAEMON_PYTHONPATH"]
        return env

    def sweep_stale(self) -> list[str]:
        """Delete the Redis keys of earlier bench runs on this host whose process is gone (a
        run killed with SIGKILL cleans nothing up); runs still alive are left alone."""
        swept = []
        for key in self.redis.scan_iter(f"serbero-bench-*:{OWNER_KEY}", count=1000):
            namespace = key.decode().rsplit(":", 1)[0]
            host, _, pid = (self.redis.get(key) or b"").decode().partition(":")
            if host != socket.gethostname() or not pid.isdigit() or _alive(int(pid)):
                continue
            keys = list(self.redis.scan_iter(f"{namespace}:*", count=1000))
            for i in range(0, len(keys), 1000):
                self.redis.delete(*keys[i:i + 1000])
            swept.append(namespace)
        return swept

    def queue_depth(self, queue: str) -> int:
        """Messages on a queue not yet acknowledged: ready, in flight or delayed."""
        ns = self.namespace
        return sum(int(self.redis.hlen(k)) for k in (f"{ns}:{queue}.msgs", f"{ns}:{queue}.DQ.msgs"))

    def redis_keys(self) -> int:
        return sum(1 for _ in self.redis.scan_iter(f"{self.namespace}:*", count=1000))

    def cleanup(self) -> None:
        """Delete the namespace's Redis keys, the PostgreSQL schema and the directory."""
        keys = list(self.redis.scan_iter(f"{self.namespace}:*", count=1000))
        for i in range(0, len(keys), 1000):
            self.redis.delete(*keys[i:i + 1000])
        if self.pg_schema is not None:
            from serbero.db import open_database

            admin = open_database(self.pg_url, bind=False)
            admin.execute_sql(f"DROP SCHEMA IF EXISTS {self.pg_schema} CASCADE")
            admin.close()
            self.pg_schema = None
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------- logs


@dataclass(frozen=True)
class LogRecord:
    at: float  # wall-clock seconds
    message: str
    fields: dict[str, str]


def read_log(path: Path, messages: set[str]) -> list[LogRecord]:
    """The daemon's logfmt records whose message is one of `messages` (others are skipped)."""
    records = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return records
    for line in text.splitlines():
        m = _LOG_LINE.match(line)
        if not m:
            continue
        message = m.group(2).strip('"')
        if message not in messages:
            continue
        at = datetime.fromisoformat(m.group(1) + "+00:00").timestamp()
        fields = {k: v.strip('"') for k, v in _FIELD.findall(m.group(3))}
        records.append(LogRecord(at, message, fields))
    return records


def wait_until(predicate, timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


# ---------------------------------------------------------------- a Redis of the bench's own


class RedisServer:
    """A redis-server of the bench's own on a free port, which a fault may flush, stop and
    start again (empty, on the same port): the shared Redis is never touched."""

    def __init__(self, server: str | None = None) -> None:
        self.server = server or shutil.which("redis-server") or "redis-server"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        if not wait_until(lambda: _pings(client), 10, 0.02):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
