"""Chaos bench (issue 8): a burst of N disputes x S solvers against the real `serbero listen` +
`serbero worker` processes (or `serbero run`), with one fault per scenario, and the proof that
nothing was lost or sent twice and that the daemon recovered by itself within a minute.

Each scenario gets a deployment of its own (`Deployment`): a redis-server of its own (a fault
may flush or stop it), one or two in-process relays (the first behind a link that can be cut),
a simulated Mostro node, S solver inboxes, a temporary SQLite file or PostgreSQL schema, and
the daemon's processes. The disputes are published over `spread` seconds; the fault strikes
inside that window. Afterwards every inbox reads back from every relay what was addressed to
it (the relay's fan-out may drop events under a burst), so "lost" means never published, and a
duplicate is a second distinct DM about one dispute to one solver.

`tests/chaos/` runs the short form of every scenario through this same code. See
bench/README.md for how to run it and what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import Child, Workspace

#: A fault must be over and every DM out within this many seconds of its end.
RECOVERY_LIMIT_S = 60.0
#: Text of an initial notice (below the subject line in the mostro-v2 form).
INITIAL_TEXT = "New Mostro dispute requires attention."
#: After every DM arrived: how long to keep listening for a late duplicate.
QUIET_S = 2.0
#: Sends of the Mostro node in flight at once.
PUBLISH_IN_FLIGHT = 64
#: Disputes opened before the burst, to prove the chain works (not counted).
WARMUP = 2
PG_URL = os.environ.get("SERBERO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: Holds an exclusive lock on an SQLite file for argv[2] seconds (scenario g).
_LOCKER = (
    "import sqlite3, sys, time\n"
    "c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)\n"
    "c.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "c.execute('ROLLBACK')\n"
)


@dataclass(frozen=True)
class Durations:
    """How long each fault lasts (the long form's are the issue's)."""

    redis_down_s: float = 20.0
    relay_down_s: float = 60.0
    db_lock_s: float = 5.0
    #: How long a SIGKILLed listener or `serbero run` stays dead before it is started again.
    dead_s: float = 2.0
    #: Worker processes SIGKILLed in scenario a.
    worker_kills: int = 3


LONG = Durations()
SHORT = Durations(redis_down_s=2.0, relay_down_s=3.0, db_lock_s=2.0, dead_s=1.0,
                  worker_kills=2)


@dataclass(frozen=True)
class Options:
    disputes: int = 1000
    solvers: int = 3
    workers: int = 2
    threads: int = 8
    durations: Durations = LONG
    #: Seconds over which the burst is published (None: from N).
    spread_s: float | None = None
    recovery_limit_s: float = RECOVERY_LIMIT_S
    pg_url: str = PG_URL
    seed: int = 8
    keep: bool = False
    #: Print progress lines.
    verbose: bool = True

    def spread(self) -> float:
        return self.spread_s if self.spread_s is not None else max(4.0, self.disputes / 50)


# ---------------------------------------------------------------- the deployment under fire


@dataclass
class Tally:
    """What the inboxes got: (solver index, dispute id) → DM event ids, and when each DM came
    (wall clock) if it came live."""

    wraps: dict[tuple[int, str], set[str]] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)

    def add(self, solver: int, dm: Any, at: float | None) -> None:
        dispute = dm.linked_to or _dispute_line(dm.text)
        if dispute is None or INITIAL_TEXT not in dm.text:
            return
        self.wraps.setdefault((solver, dispute), set()).add(dm.wrap_id)
        if at is not None:
            self.arrived.setdefault(dm.wrap_id, at)

    def notified(self, ids: list[str], solvers: int) -> int:
        return sum(1 for d in ids for s in range(solvers) if self.wraps.get((s, d)))


def _dispute_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("dispute_id: "):
            return line.removeprefix("dispute_id: ").strip()
    return None


class Deployment:
    """One scenario's world: its own Redis, relays, node, inboxes, database and processes."""

    def __init__(self, opts: Options, scenario: Scenario, log: Callable[[str], None]) -> None:
        self.opts = opts
        self.scenario = scenario
        self.log = log
        self.redis: harness.RedisServer | None = None
        self.ws: Workspace | None = None
        self.relays: list[Any] = []
        self.urls: list[str] = []
        self.link: Any = None
        self.node: Any = None
        self.inboxes: list[Any] = []
        self.children: list[Child] = []
        self.listener: Child | None = None
        self.workers: Child | None = None
        self.all_in_one: Child | None = None
        self.env: dict[str, str] = {}
        self.config: Path | None = None
        self.serbero_keys: Any = None
        self.tally = Tally()
        self._seen = [0] * opts.solvers
        self.wall_offset = time.time() - time.perf_counter()
        #: Set while a fault has a process down on purpose.
        self.expect_dead: set[str] = set()
        #: Disputes some solver never heard of.
        self.lost_ids: list[str] = []

    # ------------------------------------------------------------ set-up and tear-down

    async def start(self) -> None:
        from nostr_sdk import Keys

        from serbero.db import open_database
        from serbero.simulators.link import CuttableLink
        from serbero.simulators.mostro_node import MostroNode
        from serbero.simulators.relay import start_relay
        from serbero.simulators.solver_inbox import SolverInbox

        sc, opts = self.scenario, self.opts
        self.redis = await asyncio.to_thread(harness.RedisServer)
        self.ws = Workspace(redis_url=self.redis.url, pg_url=opts.pg_url if sc.postgres else None,
                            keep=opts.keep)
        for _ in range(sc.relays):
            relay, url = await start_relay(port=harness.free_port())
            self.relays.append(relay)
            self.urls.append(url)
        if sc.relays > 1:  # the first relay is reached through a link that a fault cuts
            self.link = await CuttableLink(self.urls[0]).open()
            self.urls[0] = self.link.url
        self.inboxes = [await SolverInbox(name=f"solver-{i + 1}").connect(self.urls)
                        for i in range(opts.solvers)]
        self.node = await MostroNode().connect(self.urls)
        more = "".join(f'\n[[relays]]\nurl = "{u}"\n' for u in self.urls[1:])
        self.serbero_keys = Keys.generate()
        self.config = self.ws.write_config(
            serbero_secret=self.serbero_keys.secret_key().to_hex(), mostro=self.node.pubkey,
            relay=self.urls[0], solvers=[i.pubkey for i in self.inboxes],
            notice_format="mostro-v2", extra=more + sc.extra_config)
        self.env = self.ws.env(self.config)
        self.env.update(sc.extra_env)
        if sc.processes == "run":  # the embedded broker: nothing survives a kill but the DB
            self.env.pop("SERBERO_REDIS_URL", None)
        serbero = harness.venv_bin("serbero")
        await asyncio.to_thread(subprocess.run, [serbero, "migrate", "-c", str(self.config)],
                                env=self.env, check=True, capture_output=True, timeout=60,
                                cwd=self.ws.root)
        open_database(self.ws.db_url)
        if sc.processes == "run":
            self.all_in_one = self.spawn("run", ["run", "-c", str(self.config)])
        else:
            self.listener = self.spawn("listener", ["listen", "-c", str(self.config)])
            self.workers = self.spawn("workers", [
                "worker", "-c", str(self.config), "-p", str(opts.workers),
                "-t", str(opts.threads)])

    def spawn(self, name: str, args: list[str]) -> Child:
        assert self.ws is not None
        child = harness.spawn(name, [harness.venv_bin("serbero"), *args], env=self.env,
                              log_path=self.ws.root / f"{name}.log", cwd=self.ws.root)
        self.children.append(child)
        return child

    def kill(self, child: Child) -> None:
        """SIGKILL a process (and its group: a worker master's children die with it)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.proc.wait(10)

    async def close(self) -> None:
        for child in reversed(self.children):
            await asyncio.to_thread(harness.stop, child)
        for peer in (*self.inboxes, self.node):
            if peer is not None:
                with contextlib.suppress(Exception):
                    await peer.shutdown()
        if self.link is not None:
            await self.link.cut()
        for relay in self.relays:
            relay.shutdown()
        if self.ws is not None:
            await asyncio.to_thread(self.ws.cleanup)
        if self.redis is not None:
            self.redis.stop()

    def check_alive(self) -> None:
        for child in (self.listener, self.workers, self.all_in_one):
            if (child is not None and child.name not in self.expect_dead
                    and child.proc.poll() is not None):
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; "
                                   f"see {child.log_path}")

    # ------------------------------------------------------------ what the inboxes got

    def scan(self) -> None:
        for i, inbox in enumerate(self.inboxes):
            new = inbox.messages[self._seen[i]:]
            self._seen[i] += len(new)
            for dm in new:
                self.tally.add(i, dm, dm.received_at + self.wall_offset)

    async def wait_notified(self, ids: list[str], deadline: float) -> bool:
        """Wait until every solver got a DM about every dispute, or the wall clock passes
        `deadline`."""
        want = len(ids) * self.opts.solvers
        while True:
            self.scan()
            if self.tally.notified(ids, self.opts.solvers) >= want:
                return True
            self.check_alive()
            if time.time() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def sweep(self) -> None:
        """Read back from every relay what each inbox was sent: the relay's fan-out may drop
        events under a burst, so only what no relay holds counts as never sent."""
        from nostr_sdk import Filter, Kind, Timestamp

        from serbero.listener.catchup import read_relay
        from serbero.simulators.solver_inbox import GIFT_WRAP, GIFT_WRAP_LOOKBACK_S, SEND_DM

        since = int(time.time()) - GIFT_WRAP_LOOKBACK_S
        for i, inbox in enumerate(self.inboxes):
            me = inbox.keys.public_key()
            filters = [Filter().kind(Kind(k)).pubkey(me).since(Timestamp.from_secs(since))
                       for k in (GIFT_WRAP, SEND_DM)]

            def handle(event: Any, name: str, i: int = i, inbox: Any = inbox) -> str:
                dm = inbox.read(event)
                if dm is not None:
                    self.tally.add(i, dm, None)
                return "read"
            for url in self.urls:
                try:
                    await read_relay(inbox.client, url, [("dms", filters)], since, handle)
                except Exception as exc:  # a relay still down: the others hold the DMs too
                    self.log(f"   sweep of {url} for {inbox.name} failed: {exc}")

    # ------------------------------------------------------------ the burst

    async def warm_up(self) -> None:
        ids = [await self.node.open_dispute() for _ in range(WARMUP)]
        if not await self.wait_notified(ids, time.time() + 90):
            raise RuntimeError(f"the warm-up DMs did not arrive within 90 s; see the logs in "
                               f"{self.ws.root}")

    async def publish(self, ids: list[str], spread_s: float) -> None:
        """Open disputes `ids` evenly over `spread_s` seconds, each event stamped as it is
        published (as mostrod does: a burst signed ahead would put more events in one second
        than a relay's page holds); a send that fails is retried (one relay is always up)."""
        from serbero.errors import PublishError
        from serbero.nostr.relays import publish

        slots = asyncio.Semaphore(PUBLISH_IN_FLIGHT)

        async def send(event: Any) -> None:
            try:
                for _ in range(20):
                    try:
                        await publish(self.node.client, event)
                        return
                    except PublishError:
                        await asyncio.sleep(0.5)
                raise RuntimeError("the Mostro node could not publish for 10 s")
            finally:
                slots.release()

        start = time.monotonic()
        tasks = []
        for i, dispute in enumerate(ids):
            delay = start + i * spread_s / len(ids) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            tasks.append(asyncio.create_task(send(self.node.revision(dispute, "initiated"))))
        await asyncio.gather(*tasks)

    async def burst(self) -> dict[str, Any]:
        opts, sc = self.opts, self.scenario
        ids = [str(uuid.uuid4()) for _ in range(opts.disputes)]
        spread = opts.spread()
        t0 = time.time()
        fault = asyncio.create_task(sc.fault(self, t0, spread))
        await self.publish(ids, spread)
        published_at = time.time()
        fault_start, fault_end = await fault
        deadline = max(fault_end, published_at) + opts.recovery_limit_s + 5
        complete = await self.wait_notified(ids, deadline)
        if not complete:
            self.log("   not every DM came live; reading the relays back…")
        # A worker killed between a relay's OK and recording it leaves the row to the outbox
        # tick, which re-publishes the same event and records it: the database must agree.
        while self.unsent(ids) and time.time() < deadline:
            await asyncio.sleep(0.25)
        await asyncio.sleep(QUIET_S)  # a late duplicate would show here
        self.scan()
        await self.sweep()
        return self.figures(ids, t0, published_at, fault_start, fault_end)

    @staticmethod
    def unsent(ids: list[str]) -> int:
        from serbero.db.models import Outbox

        return (Outbox.select().where(Outbox.dispute.in_(ids) & (Outbox.notice_type == "initial")
                                      & (Outbox.status != "sent")).count())

    def figures(self, ids: list[str], t0: float, published_at: float, fault_start: float,
                fault_end: float) -> dict[str, Any]:
        from serbero.db.models import Outbox

        s = self.opts.solvers
        self.lost_ids = [d for d in ids if any(not self.tally.wraps.get((i, d))
                                               for i in range(s))]
        per_solver = [sum(1 for d in ids if self.tally.wraps.get((i, d))) for i in range(s)]
        duplicates = sum(len(w) - 1 for (_, d), w in self.tally.wraps.items()
                         if d in set(ids) and len(w) > 1)
        rows = list(Outbox.select(Outbox.dispute, Outbox.recipient, Outbox.status,
                                  Outbox.sent_at_ms)
                    .where(Outbox.dispute.in_(ids) & (Outbox.notice_type == "initial")).tuples())
        pairs: dict[tuple[str, str], int] = {}
        for dispute, recipient, _, _ in rows:
            pairs[(dispute, recipient)] = pairs.get((dispute, recipient), 0) + 1
        arrivals = [at for (_, d), w in self.tally.wraps.items() if d in set(ids)
                    for wrap in w if (at := self.tally.arrived.get(wrap)) is not None]
        swept_only = sum(1 for (_, d), w in self.tally.wraps.items() if d in set(ids)
                         for wrap in w if wrap not in self.tally.arrived)
        # when a DM was seen only by reading the relays back, the rows' "sent" stamps stand in
        sent = [ms / 1000 for *_, ms in rows if ms is not None] if swept_only else []
        last_dm = max(arrivals + sent, default=float("nan"))
        return {
            "scenario": self.scenario.key, "title": self.scenario.title,
            "disputes": len(ids), "solvers": s, "notified_per_solver": per_solver,
            "lost": len(ids) * s - sum(per_solver), "duplicates": duplicates,
            "duplicate_rows": sum(n - 1 for n in pairs.values() if n > 1),
            "unsent_rows": sum(1 for *_, status, _ in rows if status != "sent"),
            "published_s": round(published_at - t0, 2),
            "fault_at_s": round(fault_start - t0, 2), "fault_end_s": round(fault_end - t0, 2),
            "last_dm_s": round(last_dm - t0, 2),
            "recovery_s": round(max(0.0, last_dm - fault_end), 2),
            "recovery_limit_s": self.opts.recovery_limit_s,
            "swept_only": swept_only,
        }


# ---------------------------------------------------------------- the faults

Fault = Callable[[Deployment, float, float], Awaitable[tuple[float, float]]]


async def _at(t0: float, offset_s: float) -> float:
    await asyncio.sleep(max(0.0, t0 + offset_s - time.time()))
    return time.time()


async def kill_workers(dep: Deployment, t0: float, spread: float) -> tuple[float, float]:
    """(a) SIGKILL a random worker process at random moments of the burst."""
    rng = random.Random(dep.opts.seed)
    kills = dep.opts.durations.worker_kills
    moments = sorted(rng.uniform(0.15, 0.75) * spread for _ in range(kills))
    first = last = 0.0
    for m in moments:
        last = await _at(t0, m)
        first = first or last
        victims = harness.children_of(dep.workers.pid)
        if victims:
            victim = rng.choice(victims)
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
            dep.log(f"   SIGKILLed worker process {victim} at +{last - t0:.1f} s")
    return first, last


async def flush_redis(dep: Deployment, t0: float, spread: float) -> tuple[float, float]:
    """(b) FLUSHALL mid-burst: every queue, seen-mark and tick claim gone at once."""
    at = await _at(t0, spread / 3)
    await asyncio.to_thread(dep.ws.redis.flushall)
    dep.log(f"   FLUSHALL at +{at - t0:.1f} s")
    return at, at


async def stop_redis(dep: Deployment, t0: float, spread: float) -> tuple[float, float]:
    """(c) Redis stopped, then started again (empty) on the same port."""
    at = await _at(t0, spread / 4)
    await asyncio.to_thread(dep.redis.stop)
    await asyncio.sleep(dep.opts.durations.redis_down_s)
    await asyncio.to_thread(dep.redis.start)
    back = time.time()
    dep.log(f"   Redis down from +{at - t0:.1f} s to +{back - t0:.1f} s")
    return at, back


async def cut_relay(dep: Deployment, t0: float, spread: float) -> tuple[float, float]:
    """(d) One of the two relays unreachable for everyone (node, inboxes, daemon)."""
    at = await _at(t0, spread / 4)
    await dep.link.cut()
    await asyncio.sleep(dep.opts.durations.relay_down_s)
    await dep.link.open()
    back = time.time()
    dep.log(f"   relay 1 down from +{at - t0:.1f} s to +{back - t0:.1f} s")
    return at, back


def _kill_and_restart(which: str) -> Fault:
    async def fault(dep: Deployment, t0: float, spread: float) -> tuple[float, float]:
        child = getattr(dep, which)
        at = await _at(t0, spread / 3)
        dep.expect_dead.add(child.name)
        await asyncio.to_thread(dep.kill, child)
        await asyncio.sleep(dep.opts.durations.dead_s)
        dep.children.remove(child)
        args = (["listen"] if which == "listener" else ["run"]) + ["-c", str(dep.config)]
        setattr(dep, which, dep.spawn(child.name, args))
        dep.expect_dead.discard(child.name)
        back = time.time()
        dep.log(f"   {child.name} SIGKILLed at +{at - t0:.1f} s, started again at "
                f"+{back - t0:.1f} s")
        return at, back
    fault.__doc__ = f"SIGKILL {which} and start it again"
    return fault


async def lock_database(dep: Deployment, t0: float, spread: float) -> tuple[float, float]:
    """(g) Another process holds an exclusive lock on the SQLite file (BEGIN EXCLUSIVE)."""
    await _at(t0, spread / 3)
    locker = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-c", _LOCKER, str(dep.ws.root / "serbero.db"),
                           str(dep.opts.durations.db_lock_s)], stdout=subprocess.PIPE)
    line = await asyncio.to_thread(locker.stdout.readline)
    at = time.time()
    if line.strip() != b"locked":
        raise RuntimeError("the locking process did not get its lock")
    await asyncio.to_thread(locker.wait, dep.opts.durations.db_lock_s + 30)
    end = time.time()
    dep.log(f"   database locked from +{at - t0:.1f} s to +{end - t0:.1f} s")
    return at, end


async def kill_one_worker(dep: Deployment, t0: float, spread: float) -> tuple[float, float]:
    """(h) One of two worker processes (on PostgreSQL) SIGKILLed."""
    at = await _at(t0, spread / 3)
    victim = harness.children_of(dep.workers.pid)[0]
    os.kill(victim, signal.SIGKILL)
    dep.log(f"   SIGKILLed worker process {victim} at +{at - t0:.1f} s")
    return at, at


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    fault: Fault
    #: "split" (serbero listen + serbero worker) or "run" (serbero run, embedded broker)
    processes: str = "split"
    relays: int = 1
    postgres: bool = False
    extra_config: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {s.key: s for s in (
    Scenario("a", "worker processes SIGKILLed at random moments", kill_workers),
    Scenario("b", "Redis FLUSHALL mid-burst", flush_redis),
    Scenario("c", "Redis stopped, then restarted empty", stop_redis),
    Scenario("d", "one of two relays down", cut_relay, relays=2),
    Scenario("e", "listener SIGKILLed and restarted", _kill_and_restart("listener")),
    Scenario("f", "`serbero run` SIGKILLed and restarted", _kill_and_restart("all_in_one"),
             processes="run"),
    Scenario("g", "SQLite database locked by another process", lock_database),
    Scenario("h", "PostgreSQL, one of two worker processes SIGKILLed", kill_one_worker,
             postgres=True),
)}


def fault_length(key: str, d: Durations) -> str:
    return {"a": f"{d.worker_kills} kills", "b": "instant", "c": f"{d.redis_down_s:g} s down",
            "d": f"{d.relay_down_s:g} s down", "e": f"dead {d.dead_s:g} s",
            "f": f"dead {d.dead_s:g} s", "g": f"{d.db_lock_s:g} s locked",
            "h": "1 kill"}[key]


async def run_scenario(key: str, opts: Options,
                       log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run one scenario in a deployment of its own; its figures (see `passed`)."""
    dep = Deployment(opts, SCENARIOS[key], log)
    try:
        await dep.start()
        await dep.warm_up()
        result = await dep.burst()
        result["fault"] = fault_length(key, opts.durations)
        dep.ws.keep = opts.keep or not passed(result)  # a failure keeps its logs
        result["logs"] = str(dep.ws.root) if dep.ws.keep else None
        if not passed(result):
            result["lost_ids"] = dep.lost_ids[:20]
            log(f"   logs kept in {dep.ws.root}")
        return result
    except BaseException:
        if dep.ws is not None:
            dep.ws.keep = True
            log(f"   logs kept in {dep.ws.root}")
        raise
    finally:
        await dep.close()


def passed(result: dict[str, Any]) -> bool:
    return (result["lost"] == 0 and result["duplicates"] == 0 and result["duplicate_rows"] == 0
            and result["unsent_rows"] == 0 and result["recovery_s"] < result["recovery_limit_s"])


# ---------------------------------------------------------------- report and command line


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'':2} {'scenario':50} {'fault':12} {'notified per solver':>20} {'lost':>5} "
            f"{'dup':>4} {'recovery':>9}  verdict")
    lines = [head, "-" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"{r['scenario']:2} {r['title']:50} ERROR: {r['error']}")
            continue
        notified = "/".join(str(n) for n in r["notified_per_solver"])
        lines.append(
            f"{r['scenario']:2} {r['title'][:50]:50} {r['fault']:12} {notified:>20} "
            f"{r['lost']:>5} {r['duplicates'] + r['duplicate_rows']:>4} "
            f"{r['recovery_s']:>7.1f} s  {'PASS' if passed(r) else 'FAIL'}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Options]:
    p = argparse.ArgumentParser(
        description="Serbero chaos bench: a burst of disputes under one fault per scenario; "
        "0 lost, 0 duplicates and recovery under a minute, or exit 1. Quick run: "
        "--all --disputes 40 --durations short.")
    p.add_argument("--all", action="store_true", help="every scenario (a-h)")
    p.add_argument("--scenario", default="", help="comma-separated scenario keys, e.g. a,c")
    p.add_argument("--disputes", "-n", type=int, default=1000, help="N disputes per burst")
    p.add_argument("--solvers", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--threads", type=int, default=8, help="threads per worker process")
    p.add_argument("--durations", choices=["long", "short"], default="long",
                   help="fault lengths: long (Redis 20 s, relay 60 s, lock 5 s down) or short "
                   "(Redis 2 s, relay 3 s, lock 2 s)")
    p.add_argument("--spread", type=float, default=None,
                   help="seconds over which the burst is published (default: max(4, N/50))")
    p.add_argument("--hostile", type=int, default=0, metavar="COUNT",
                   help="also send COUNT hypothesis-generated hostile events (bench/hostile.py)")
    p.add_argument("--pg-url", default=PG_URL, help="PostgreSQL for scenario h")
    p.add_argument("--seed", type=int, default=8, help="random kill moments of scenario a")
    p.add_argument("--keep", action="store_true", help="keep each workspace (config, logs)")
    p.add_argument("--json", dest="json_path", type=Path, default=None)
    a = p.parse_args(argv)
    keys = list(SCENARIOS) if a.all else [k.strip() for k in a.scenario.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if not keys and not a.hostile:
        p.error("say which: --all, --scenario a,c or --hostile COUNT")
    if min(a.disputes, a.solvers, a.workers, a.threads) < 1:
        p.error("--disputes, --solvers, --workers and --threads must be positive")
    a.keys = keys
    return a, Options(disputes=a.disputes, solvers=a.solvers, workers=a.workers,
                      threads=a.threads, durations=LONG if a.durations == "long" else SHORT,
                      spread_s=a.spread, pg_url=a.pg_url, seed=a.seed, keep=a.keep)


async def amain(args: argparse.Namespace, opts: Options) -> int:
    from nostr_sdk import uniffi_set_event_loop

    uniffi_set_event_loop(asyncio.get_running_loop())
    results: list[dict[str, Any]] = []
    print(f"Serbero chaos bench: N={opts.disputes} disputes x {opts.solvers} solvers, "
          f"published over {opts.spread():g} s, {opts.workers} worker processes x "
          f"{opts.threads} threads; {args.durations} fault durations "
          f"({json.dumps(asdict(opts.durations))}); machine {os.cpu_count()} CPUs, load "
          f"{harness.loadavg()}", flush=True)
    for key in args.keys:
        sc = SCENARIOS[key]
        print(f"\n[{key}] {sc.title}…", flush=True)
        started = time.monotonic()
        try:
            r = await run_scenario(key, opts, lambda line: print(line, flush=True))
        except Exception as exc:
            r = {"scenario": key, "title": sc.title, "error": str(exc)[:300]}
        r["took_s"] = round(time.monotonic() - started, 1)
        results.append(r)
        if "error" not in r:
            print(f"   {r['lost']} lost, {r['duplicates']} duplicate DMs "
                  f"({r['duplicate_rows']} duplicate rows), last DM {r['recovery_s']:.1f} s after "
                  f"the fault ended ({r['swept_only']} DMs found only by reading the relays back; "
                  f"{r['took_s']:.0f} s in all)", flush=True)
    hostile = None
    if args.hostile:
        import hostile as hostile_load

        print(f"\n[hostile] {args.hostile} hypothesis-generated hostile events…", flush=True)
        hostile = await hostile_load.run(args.hostile, replace(opts, disputes=1),
                                         lambda line: print(line, flush=True))
        print(hostile_load.report(hostile), flush=True)
    if results:
        print("\n" + table(results))
    ok = all("error" not in r and passed(r) for r in results) and (
        hostile is None or hostile["passed"])
    if args.json_path:
        args.json_path.write_text(json.dumps({"options": asdict(opts), "scenarios": results,
                                              "hostile": hostile, "passed": ok},
                                             indent=2, default=str))
    print(f"\n{'PASS' if ok else 'FAIL'}: {len(results)} scenario(s)"
          + (", hostile load" if hostile else ""))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    args, opts = parse_args(argv)
    try:
        return asyncio.run(amain(args, opts))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
