"""Core benchmark (issue 2): the real `serbero listen` and `serbero worker` processes against an
in-process relay and the real Redis, measured against nostr-sdk alone on the same relay.

Phases, after a warm-up: (1) latency at a low rate, (2) a burst, (3) the library limit in the
same run, (4) a replay, (5) the listener's memory. See bench/README.md for what each figure
means and how to run it. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import harness
from harness import Child, Workspace

# Serbero's modules are imported after argument parsing: `--help` stays fast.

TARGET_P50_MS = 50
TARGET_P99_MS = 250
TARGET_BURST_RATIO = 0.65
TARGET_RSS_MB = 100
#: Sends waiting for their OK at once when the Mostro node publishes a burst.
PUBLISH_IN_FLIGHT = 64
#: With every DM recorded sent, how long no new DM may arrive before the rest count as lost.
QUIET_S = 3.0
#: Replay copies of every dispute event.
REPLAYS = 3
INITIAL_TEXT = "New Mostro dispute requires attention."
_DISPUTE_LINE = re.compile(r"^dispute_id: (\S+)$", re.M)
_LIB_ROUND = re.compile(r"^round: (\S+)$", re.M)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), linear between closest ranks; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------- what the inboxes decrypted


@dataclass
class Collector:
    """Sorts what the solver inboxes decrypted: Serbero's initial notices per dispute, the
    library sender's DMs per round, and anything else."""

    inboxes: list[Any]
    initial: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    library: dict[str, list[float]] = field(default_factory=dict)
    other: list[tuple[int, float, str]] = field(default_factory=list)
    _seen: list[int] = field(default_factory=list)

    def scan(self) -> None:
        if not self._seen:
            self._seen = [0] * len(self.inboxes)
        for i, inbox in enumerate(self.inboxes):
            new = inbox.messages[self._seen[i]:]
            self._seen[i] += len(new)
            for dm in new:
                lib = _LIB_ROUND.search(dm.text)
                found = _DISPUTE_LINE.search(dm.text)
                if lib and dm.text.startswith("bench library-limit"):
                    self.library.setdefault(lib.group(1), []).append(dm.received_at)
                elif found and INITIAL_TEXT in dm.text.split("\n", 2)[:2]:
                    # the original's text, alone (nip17-original) or below the subject line
                    self.initial.setdefault(found.group(1), []).append((i, dm.received_at))
                else:
                    self.other.append((i, dm.received_at, dm.text.split("\n", 1)[0]))

    def total(self) -> int:
        return sum(len(i.messages) for i in self.inboxes)

    def initial_count(self, disputes: list[str]) -> int:
        self.scan()
        return sum(len(self.initial.get(d, ())) for d in disputes)


async def wait_for(predicate: Callable[[], bool], timeout_s: float, every_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every_s)
    return True


# ---------------------------------------------------------------- the bench


@dataclass
class Options:
    disputes: int
    solvers: int
    workers: int
    threads: int
    rate_ms: float
    latency_disputes: int
    warmup: int
    lib_senders: int
    lib_rounds: int
    timeout_s: float
    db_url: str | None
    redis_url: str
    skip_latency: bool
    skip_burst: bool
    skip_library: bool
    skip_replay: bool
    keep: bool
    json_path: Path | None
    profile_dir: Path | None
    dispatch_interval: int = 30
    skip_ceiling: bool = False
    #: [notifications].format for the daemon; None leaves it out (code older than issue 11)
    notice_format: str | None = None


class Bench:
    def __init__(self, opts: Options, ws: Workspace) -> None:
        self.opts = opts
        self.ws = ws
        self.children: list[Child] = []
        self.relay: Any = None
        self.url = ""
        self.inboxes: list[Any] = []
        self.node: Any = None
        self.ceiling_node: Any = None  # a Mostro node Serbero does not subscribe to
        self.collector: Collector | None = None
        self.listener: Child | None = None
        self.workers: Child | None = None
        self.env: dict[str, str] = {}
        self.config: Path | None = None
        self.events: list[Any] = []  # every measured dispute event, for the replay
        self.published: dict[str, float] = {}  # dispute id → perf_counter at publish
        #: perf_counter (CLOCK_MONOTONIC) + offset = wall clock, to line up with log stamps.
        self.wall_offset = time.time() - time.perf_counter()
        self.results: dict[str, Any] = {}
        #: The form and text length of the daemon's notices (seen in the warm-up).
        self.notice_form = "nip17-original"
        self.notice_length = 0

    # ------------------------------------------------------------ set-up and tear-down

    async def start(self) -> None:
        from nostr_sdk import Keys

        from serbero.db import open_database
        from serbero.simulators.mostro_node import MostroNode
        from serbero.simulators.relay import start_relay
        from serbero.simulators.solver_inbox import SolverInbox

        port = harness.free_port()
        self.relay, self.url = await start_relay(port=port)
        self.inboxes = [await SolverInbox(name=f"solver-{i + 1}").connect([self.url])
                        for i in range(self.opts.solvers)]
        self.collector = Collector(self.inboxes)
        self.node = await MostroNode().connect([self.url])
        self.ceiling_node = await MostroNode().connect([self.url])
        self.config = self.ws.write_config(
            serbero_secret=Keys.generate().secret_key().to_hex(), mostro=self.node.pubkey,
            relay=self.url, solvers=[i.pubkey for i in self.inboxes],
            dispatch_interval_s=self.opts.dispatch_interval, notice_format=self.opts.notice_format,
            extra=self.extra_config())
        self.env = {**self.ws.env(self.config), **self.extra_env()}
        serbero = harness.venv_bin("serbero")
        subprocess.run([serbero, "migrate", "-c", str(self.config)], env=self.env, check=True,
                       capture_output=True, timeout=60, cwd=self.ws.root)
        open_database(self.ws.db_url)
        self.listener = self._spawn("listener", [serbero, "listen", "-c", str(self.config)])
        self.workers = self._spawn("workers", [
            serbero, "worker", "-c", str(self.config), "-p", str(self.opts.workers),
            "-t", str(self.opts.threads)])
        ok = await asyncio.to_thread(harness.wait_until, lambda: len(
            harness.children_of(self.workers.pid)) >= self.opts.workers, 30)
        if not ok:
            raise RuntimeError(f"worker processes did not start; see {self.workers.log_path}")
        # Publish nothing before the listener's dispute subscription is live: an event sent
        # while it subscribes can be missed until the next re-fetch, failing the warm-up.
        log = self.listener.log_path
        ok = await asyncio.to_thread(harness.wait_until, lambda: "subscription=serbero-disputes"
                                     in log.read_text(errors="replace"), 30)
        if not ok:
            raise RuntimeError(f"the listener did not subscribe; see {log}")
        print(f"relay {self.url}, listener pid {self.listener.pid}, worker master pid "
              f"{self.workers.pid} ({self.opts.workers}x{self.opts.threads}), "
              f"Redis namespace {self.ws.namespace}, workspace {self.ws.root}", flush=True)

    def extra_config(self) -> str:
        """More configuration (TOML) for a bench built on this one."""
        return ""

    def extra_env(self) -> dict[str, str]:
        """More environment for the daemon's processes."""
        return {}

    def _spawn(self, name: str, argv: list[str]) -> Child:
        # Popen from the main (loop) thread: the children's death signal follows this thread.
        child = harness.spawn(name, argv, env=self.env, log_path=self.ws.root / f"{name}.log",
                              cwd=self.ws.root)
        self.children.append(child)
        return child

    def stop_processes(self) -> None:
        for child in reversed(self.children):  # library senders, then workers, then listener
            harness.stop(child)

    async def close(self) -> None:
        await asyncio.to_thread(self.stop_processes)
        for inbox in self.inboxes:
            with contextlib.suppress(Exception):
                await inbox.shutdown()
        if self.node is not None:
            with contextlib.suppress(Exception):
                await self.node.shutdown()
        if self.relay is not None:
            self.relay.shutdown()

    def check_alive(self) -> None:
        for child in (self.listener, self.workers):
            if child is not None and child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; "
                                   f"see {child.log_path}")

    # ------------------------------------------------------------ measurements

    def cpu_snapshot(self) -> dict[str, float]:
        workers = harness.children_of(self.workers.pid) if self.workers else []
        info = self.ws.redis.info("cpu")
        return {
            "bench (relay, inboxes, Mostro)": cpu_self(),
            "listener": harness.cpu_seconds(self.listener.pid) if self.listener else 0.0,
            "workers": sum(harness.cpu_seconds(p) for p in workers)
            + (harness.cpu_seconds(self.workers.pid) if self.workers else 0.0),
            "redis-server (shared)": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            "whole machine": harness.machine_busy_seconds(),
        }

    @staticmethod
    def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: after[k] - before[k] for k in before}

    async def _publish_paced(self, count: int, interval_s: float) -> list[str]:
        ids = []
        start = time.perf_counter() + 0.05
        for i in range(count):
            delay = start + i * interval_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            dispute = str(uuid.uuid4())
            event = self.node.revision(dispute, "initiated")
            self.published[dispute] = time.perf_counter()
            await self.node.send(event)
            ids.append(dispute)
            self.events.append(event)
        return ids

    async def _wait_initial(self, ids: list[str], timeout_s: float) -> bool:
        want = len(ids) * self.opts.solvers

        def done() -> bool:
            self.check_alive()
            return self.collector.initial_count(ids) >= want
        return await wait_for(done, timeout_s)

    async def warm_up(self) -> None:
        """Pay the first-write Nagle spikes, the listener's and workers' first connections
        and per-thread database connections; nothing here is measured."""
        n = self.opts.warmup
        paced = await self._publish_paced(min(5, n), self.opts.rate_ms / 1000)
        burst = await self._publish_paced(max(0, n - 5), 0.005)
        ok = await self._wait_initial(paced + burst, 60)
        self.events.clear()
        if not ok:
            raise RuntimeError("warm-up DMs did not arrive within 60 s; see the logs in "
                               f"{self.ws.root}")
        # The library limit sends what the daemon just sent: the same form, as long a text.
        notice = next(dm for inbox in self.inboxes for dm in inbox.messages
                      if INITIAL_TEXT in dm.text)
        self.notice_form = "mostro-v2" if notice.form == "mostro-v2" else "nip17-original"
        self.notice_length = len(notice.text)
        await asyncio.sleep(0.5)

    async def latency(self, *, label: str = "[1/5] latency", key: str = "latency") -> None:
        n = self.opts.latency_disputes
        print(f"\n{label}: {n} disputes, one every {self.opts.rate_ms:g} ms…", flush=True)
        cpu0 = self.cpu_snapshot()
        ids = await self._publish_paced(n, self.opts.rate_ms / 1000)
        await self._wait_initial(ids, self.opts.timeout_s)
        cpu = self.cpu_delta(cpu0, self.cpu_snapshot())
        per_dm, per_dispute, lost, dup = [], [], 0, 0
        for d in ids:
            got = self.collector.initial.get(d, [])
            lost += max(0, self.opts.solvers - len({i for i, _ in got}))
            dup += len(got) - len({i for i, _ in got})
            lat = [(at - self.published[d]) * 1000 for _, at in got]
            per_dm += lat
            if len({i for i, _ in got}) == self.opts.solvers:
                per_dispute.append(max(lat))
        self.results[key] = {
            "disputes": n, "rate_ms": self.opts.rate_ms, "dms": len(per_dm), "lost": lost,
            "duplicates": dup,
            "p50_ms": pct(per_dm, 50), "p95_ms": pct(per_dm, 95), "p99_ms": pct(per_dm, 99),
            "max_ms": max(per_dm, default=float("nan")),
            "dispute_p50_ms": pct(per_dispute, 50), "dispute_p99_ms": pct(per_dispute, 99),
            "stages": self.stages(ids), "cpu_s": cpu,
        }

    def stages(self, ids: list[str]) -> dict[str, list[float]]:
        """Median and p95 (ms) of each hop, from the daemon's log stamps (1 ms resolution)."""
        from serbero.nostr.keys import short

        wanted = set(ids)
        enq = {r.fields.get("dispute_id"): r.at for r in harness.read_log(
            self.listener.log_path, {"dispute event received"})}
        worker_log = harness.read_log(self.workers.log_path,
                                      {"detected new dispute", "notification_sent"})
        ingest = {r.fields.get("dispute_id"): r.at for r in worker_log
                  if r.message == "detected new dispute"}
        sent = {(r.fields.get("dispute_id"), r.fields.get("solver")): r.at for r in worker_log
                if r.message == "notification_sent" and r.fields.get("notif_type") == "initial"}
        names = [short(i.pubkey) for i in self.inboxes]
        hops: dict[str, list[float]] = {"publish → listener enqueued": [],
                                        "enqueued → worker ingests": [],
                                        "ingest → DM recorded sent": [],
                                        "recorded sent → decrypted": []}
        for d in wanted:
            pub = self.published[d] + self.wall_offset
            if d in enq:
                hops["publish → listener enqueued"].append(enq[d] - pub)
                if d in ingest:
                    hops["enqueued → worker ingests"].append(ingest[d] - enq[d])
            for i, at in self.collector.initial.get(d, []):
                s = sent.get((d, names[i]))
                if s is not None:
                    if d in ingest:
                        hops["ingest → DM recorded sent"].append(s - ingest[d])
                    hops["recorded sent → decrypted"].append(at + self.wall_offset - s)
        return {k: [pct(v, 50) * 1000, pct(v, 95) * 1000, len(v)] for k, v in hops.items()}

    async def burst(self) -> None:
        from serbero.db.models import Outbox

        k, s = self.opts.disputes, self.opts.solvers
        print(f"\n[2/5] burst: {k} disputes published at once ({k * s} DMs)…", flush=True)
        ids = [str(uuid.uuid4()) for _ in range(k)]
        events = [self.node.revision(d, "initiated") for d in ids]  # signed before the clock
        sent_before = Outbox.select().where(Outbox.status == "sent").count()
        depth = {"events": 0, "notify": 0}
        sent_all_at: list[float] = []
        stop = threading.Event()

        def watch() -> None:  # queue depths and the database, four times a second
            while not stop.wait(0.25):
                for q, peak in depth.items():
                    depth[q] = max(peak, self.ws.queue_depth(q))
                sent = Outbox.select().where(Outbox.status == "sent").count() - sent_before
                if sent >= k * s and not sent_all_at:
                    sent_all_at.append(time.perf_counter())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        spies = self._start_profilers()
        cpu0 = self.cpu_snapshot()
        t0 = time.perf_counter()
        await self._publish_all(self.node, ids, events)
        published_s = time.perf_counter() - t0
        self.events += events
        last_change = [time.monotonic(), self.collector.total()]

        def settled() -> bool:
            self.check_alive()
            if self.collector.initial_count(ids) >= k * s:
                return True
            if self.collector.total() != last_change[1]:
                last_change[:] = [time.monotonic(), self.collector.total()]
            return bool(sent_all_at) and time.monotonic() - last_change[0] > QUIET_S
        await wait_for(settled, self.opts.timeout_s, 0.05)
        cpu = self.cpu_delta(cpu0, self.cpu_snapshot())
        self._stop_profilers(spies)
        # The last rows are marked sent just after their DMs are decrypted (the relay fans an
        # event out before it answers OK): give the database and the logs a moment.
        await wait_for(lambda: bool(sent_all_at), 10, 0.05)
        stop.set()
        watcher.join()
        received = [at for d in ids for _, at in self.collector.initial.get(d, [])]
        sent_log = [r.at for r in harness.read_log(self.workers.log_path, {"notification_sent"})
                    if r.fields.get("dispute_id") in set(ids)]
        # The last "recorded sent" instant: the workers' log stamp, else the database poll.
        t_sent = (max(sent_log) - self.wall_offset - t0 if len(sent_log) >= k * s
                  else (sent_all_at[0] - t0 if sent_all_at else float("nan")))
        missing = k * s - len(received)
        self.results["burst"] = {
            "disputes": k, "dms": k * s, "published_s": published_s,
            "decrypted": len(received), "missing": missing,
            "decrypted_s": max(received) - t0 if received else float("nan"),
            "sent_s": t_sent, "stored_missing": await self._stored_missing(ids) if missing else 0,
            "unrecorded": self._unrecorded(ids) if missing else 0,
            "stepped_past_a_second": bool(harness.read_log(
                self.listener.log_path, {"catch_up_stepped_past_a_second"})) if missing else False,
            "peak_depth": depth, "cpu_s": cpu, "stages": self.stages(ids),
        }

    async def _publish_all(self, node: Any, ids: list[str], events: list[Any]) -> None:
        """Publish a burst's events as fast as `node` can, PUBLISH_IN_FLIGHT at a time."""
        slots = asyncio.Semaphore(PUBLISH_IN_FLIGHT)

        async def send(d: str, event: Any) -> None:
            try:
                self.published[d] = time.perf_counter()
                await node.client.send_event(event)
            finally:
                slots.release()

        tasks = []
        for d, event in zip(ids, events, strict=True):
            await slots.acquire()
            tasks.append(asyncio.create_task(send(d, event)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)

    def _start_profilers(self) -> list[subprocess.Popen]:
        """py-spy on the listener and each worker process for the burst (--profile DIR)."""
        out = self.opts.profile_dir
        if out is None:
            return []
        out.mkdir(parents=True, exist_ok=True)
        pids = [("listener", self.listener.pid)] + [
            (f"worker-{p}", p) for p in harness.children_of(self.workers.pid)]
        # Two views per process: every active thread (waits on locks and sockets included),
        # and only the thread holding the GIL (where Python spends CPU).
        spies = [subprocess.Popen(
            [harness.venv_bin("py-spy"), "record", "--pid", str(pid), "--format", "raw",
             "--function", "--nonblocking", *mode,
             *os.environ.get("BENCH_PYSPY_FLAGS", "").split(),
             "--output", str(out / f"burst-{name}{suffix}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in pids for mode, suffix in (([], ""), (["--gil"], ".gil"))]
        time.sleep(0.5)  # py-spy attaches
        return spies

    @staticmethod
    def _stop_profilers(spies: list[subprocess.Popen]) -> None:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            try:
                spy.wait(15)
            except subprocess.TimeoutExpired:
                spy.kill()

    @staticmethod
    def _unrecorded(ids: list[str]) -> int:
        """How many of the burst's disputes Serbero has no row for: their events never reached
        a worker."""
        from serbero.db.models import Dispute

        return len(ids) - Dispute.select().where(Dispute.dispute_id.in_(ids)).count()

    async def _stored_missing(self, ids: list[str]) -> int:
        """How many undelivered DMs the relay holds: sent by Serbero, dropped by the fan-out."""
        from nostr_sdk import EventId, Filter, ReqTarget

        from serbero.db.models import Outbox

        got = {dm.wrap_id for inbox in self.inboxes for dm in inbox.messages}
        wanted = [e for (e,) in Outbox.select(Outbox.message_id)
                  .where(Outbox.dispute.in_(ids)).tuples() if e not in got]
        found = 0
        for i in range(0, len(wanted), 400):  # LocalRelay answers at most 500 events per REQ
            f = Filter().ids([EventId.parse(e) for e in wanted[i:i + 400]])
            events = await self.node.client.fetch_events(ReqTarget.auto([f]),
                                                         timeout=timedelta(seconds=10))
            found += len(events)
        return found

    async def library(self, round_no: int) -> None:
        k, s, n = self.opts.disputes, self.opts.solvers, self.opts.lib_senders
        total = k * s
        print(f"\n[3/5] library limit, round {round_no}: {total} DMs wrapped by {n} sender "
              f"process(es), published, received and unwrapped by the same inboxes…", flush=True)
        lib = await self._senders(f"lib{round_no}-{uuid.uuid4().hex[:6]}", n, total)
        self.results.setdefault("library", []).append(lib)

    async def ceiling(self) -> None:
        """The burst again, answered by nostr-sdk alone in one process of its own (no queue, no
        database): what a daemon that did nothing but the library's work would reach here, on
        the events of a second Mostro node, which Serbero does not subscribe to."""
        k, s = self.opts.disputes, self.opts.solvers
        print(f"\n[2b/5] ceiling: {k} disputes published at once, each answered with {s} DMs "
              "by nostr-sdk alone in one process (no queue, no database)…", flush=True)
        ids = [str(uuid.uuid4()) for _ in range(k)]
        events = [self.ceiling_node.revision(d, "initiated") for d in ids]
        # The listener, paused, runs none of its re-reads of the relay meanwhile (it re-reads
        # every 20 s while events came: the burst's leftover work would load the machine).
        with harness.paused(self.listener):
            result = await self._senders(f"ceiling-{uuid.uuid4().hex[:6]}", 1, k * s,
                                         answer=(self.ceiling_node, ids, events))
        self.results["ceiling"] = result

    async def _senders(self, tag: str, n: int, total: int, *,
                       answer: tuple[Any, list[str], list[Any]] | None = None) -> dict[str, Any]:
        """Run `n` library senders (`lib_sender.py`) for `total` DMs and wait for the inboxes;
        with `answer` (a Mostro node, its disputes and their signed events), one sender answers
        the node's events, which are published as fast as the burst's once it is ready."""
        share = [total // n + (1 if i < total % n else 0) for i in range(n)]
        senders = []
        for i in range(n):
            argv = [sys.executable, str(Path(__file__).with_name("lib_sender.py")),
                    "--relay", self.url, "--recipients", ",".join(x.pubkey for x in self.inboxes),
                    "--count", str(share[i]), "--offset", str(sum(share[:i])), "--tag", tag,
                    "--form", self.notice_form, "--text-length", str(self.notice_length)]
            if answer:
                argv += ["--answer", answer[0].pubkey]
            child = harness.spawn(f"lib-sender-{i}", argv, env=self.env,
                                  log_path=self.ws.root / "lib_sender.log", cwd=self.ws.root,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.children.append(child)
            senders.append(child)
        try:
            for child in senders:
                line = await asyncio.wait_for(asyncio.to_thread(child.proc.stdout.readline), 30)
                if line.strip() != b"ready":
                    raise RuntimeError(f"library sender did not start: {line!r}")
            cpu0 = self.cpu_snapshot()
            t0 = time.perf_counter()
            for child in senders:
                child.proc.stdin.write(b"go\n")
                child.proc.stdin.flush()
            if answer:
                await self._publish_all(*answer)
            reports = await asyncio.gather(*(asyncio.to_thread(c.proc.stdout.readline)
                                             for c in senders))
            done = [json.loads(r) for r in reports]
            acked_at = time.perf_counter()
            last_change = [time.monotonic(), self.collector.total()]

            def settled() -> bool:
                self.collector.scan()
                got = len(self.collector.library.get(tag, []))
                if got >= total:
                    return True
                if self.collector.total() != last_change[1]:
                    last_change[:] = [time.monotonic(), self.collector.total()]
                return time.monotonic() - last_change[0] > QUIET_S
            await wait_for(settled, max(acked_at - t0, 1) + self.opts.timeout_s, 0.05)
            cpu = self.cpu_delta(cpu0, self.cpu_snapshot())
        finally:
            for child in senders:
                harness.stop(child, 5)
                self.children.remove(child)
        received = self.collector.library.get(tag, [])
        cpu["library senders"] = sum(d.get("cpu_s", 0.0) for d in done)
        return {
            "dms": total, "senders": n, "acked": sum(d["acked"] for d in done),
            "failed": sum(d["failed"] for d in done), "decrypted": len(received),
            "decrypted_s": max(received) - t0 if received else float("nan"),
            "sent_s": max(d["last_ok"] for d in done) - t0, "cpu_s": cpu,
            "form": self.notice_form, "text_length": self.notice_length,
        }

    async def replay(self) -> None:
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker

        from serbero.db.models import Notification, Outbox, ProcessedInput

        events = list(self.events)
        print(f"\n[4/5] replay: {len(events)} dispute events x {REPLAYS}, to the relay and "
              "straight onto the events queue…", flush=True)
        await asyncio.sleep(1.0)
        self.collector.scan()
        before = (self.collector.total(), Outbox.select().count(),
                  Notification.select().count(), ProcessedInput.select().count())
        started_wall = time.time()
        broker = RedisBroker(url=self.ws.redis_url, namespace=self.ws.namespace)
        try:
            slots = asyncio.Semaphore(PUBLISH_IN_FLIGHT)

            async def resend(event: Any) -> None:
                try:
                    await self.node.client.send_event(event)
                finally:
                    slots.release()

            tasks = []
            for event in events:
                raw = event.as_json()
                for _ in range(REPLAYS):
                    await slots.acquire()
                    tasks.append(asyncio.create_task(resend(event)))
                    # What a listener without its Redis seen-keys would hand over (Redis
                    # flushed, keys expired, two listeners racing): the inbox must absorb it.
                    broker.enqueue(dramatiq.Message(queue_name="events",
                                                    actor_name="ingest_dispute_event",
                                                    args=(raw,), kwargs={}, options={}))
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)

            def drained() -> bool:
                self.check_alive()
                return self.ws.queue_depth("events") == 0 and self.ws.queue_depth("notify") == 0
            drained_ok = await wait_for(drained, self.opts.timeout_s, 0.1)
            await asyncio.sleep(QUIET_S)
        finally:
            broker.close()
        self.collector.scan()
        after = (self.collector.total(), Outbox.select().count(),
                 Notification.select().count(), ProcessedInput.select().count())
        relay_handed = sum(1 for r in harness.read_log(
            self.listener.log_path, {"dispute event received"}) if r.at >= started_wall)
        self.results["replay"] = {
            "events": len(events), "copies": REPLAYS, "drained": drained_ok,
            "extra_dms": after[0] - before[0], "extra_outbox_rows": after[1] - before[1],
            "extra_notifications": after[2] - before[2], "extra_inbox_rows": after[3] - before[3],
            "listener_enqueued_from_relay": relay_handed,
        }

    def memory(self) -> None:
        rss, hwm = harness.memory_mb(self.listener.pid)
        workers = [harness.memory_mb(p)[0] for p in harness.children_of(self.workers.pid)]
        self.results["memory"] = {"listener_rss_mb": rss, "listener_peak_mb": hwm,
                                  "worker_rss_mb": workers}

    def code_under_test(self) -> str:
        """Where the daemon's processes import their code from (asked with their environment
        and working directory), and its git commit when it has one."""
        where = subprocess.run(
            [sys.executable, "-c", "import serbero, serbero_workers; print(serbero.__file__)"],
            env=self.env, cwd=self.ws.root, check=True, capture_output=True, text=True,
            timeout=30).stdout.strip()
        root = Path(where).resolve().parent.parent
        try:
            git = ["git", "-C", str(root)]
            head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=False,
                                  capture_output=True, text=True, timeout=5).stdout.strip()
            dirty = subprocess.run([*git, "status", "--porcelain", "serbero", "serbero_workers"],
                                   check=False, capture_output=True, text=True, timeout=5).stdout
        except OSError:
            head, dirty = "", ""
        return f"{root}" + (f" @ {head}{' + uncommitted changes' if dirty else ''}" if head
                            else " (not a git work tree)")

    async def run(self) -> None:
        loads = [harness.loadavg()]
        await self.start()
        self.results["code"] = self.code_under_test()
        await self.warm_up()
        if not self.opts.skip_latency:
            await self.latency()
        libs = self.opts.lib_rounds if not self.opts.skip_library else 0
        if libs:
            await self.library(1)
        if not self.opts.skip_burst:
            await self.burst()
            if libs and not self.opts.skip_ceiling:
                await self.ceiling()
        for r in range(2, libs + 1):
            await self.library(r)
        if not self.opts.skip_replay and self.events:
            await self.replay()
        self.memory()
        loads.append(harness.loadavg())
        self.results["load"] = loads


# ---------------------------------------------------------------- report


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def rate(dms: int, seconds: float) -> float:
    return dms / seconds if seconds and seconds == seconds and seconds > 0 else float("nan")


def report(opts: Options, res: dict[str, Any], db_kind: str) -> list[tuple[str, bool | None]]:
    out: list[tuple[str, bool | None]] = []
    print("\n" + "=" * 78)
    print(f"Serbero core benchmark: K={opts.disputes} disputes, S={opts.solvers} solvers, "
          f"W={opts.workers} worker processes x {opts.threads} threads, {db_kind}")
    print(f"code under test: {res.get('code', '?')}; solver messages: "
          f"{opts.notice_format or 'the code default'}")
    print(f"machine: {os.cpu_count()} CPUs; load average (1/5/15 min) at start "
          f"{res['load'][0]}, at end {res['load'][-1]}")

    lat = res.get("latency")
    if lat:
        print(f"\n1. Latency at a low rate ({lat['disputes']} disputes, one every "
              f"{lat['rate_ms']:g} ms). Each sample is one DM: from the Mostro node's call to "
              "publish a new dispute event (kind 38386) to the moment one solver's inbox has "
              "decrypted its initial DM about that dispute; "
              f"{lat['dms']} samples ({lat['lost']} never arrived, "
              f"{lat['duplicates']} duplicates).")
        print(f"   p50 {lat['p50_ms']:.1f} ms   p95 {lat['p95_ms']:.1f} ms   p99 "
              f"{lat['p99_ms']:.1f} ms   max {lat['max_ms']:.1f} ms")
        print(f"   per dispute (until the slowest of the {opts.solvers} solvers): p50 "
              f"{lat['dispute_p50_ms']:.1f} ms, p99 {lat['dispute_p99_ms']:.1f} ms")
        print_stages(lat["stages"])
        print_cpu(lat["cpu_s"], lat["dms"])
        out.append((f"latency p50 {lat['p50_ms']:.1f} ms <= {TARGET_P50_MS} ms",
                    lat["p50_ms"] <= TARGET_P50_MS and not lat["lost"]))
        out.append((f"latency p99 {lat['p99_ms']:.1f} ms <= {TARGET_P99_MS} ms",
                    lat["p99_ms"] <= TARGET_P99_MS and not lat["lost"]))

    burst, libs = res.get("burst"), res.get("library", [])
    serbero_rate = lib_rate = None
    # The headline compares "relay said OK" instants: the library senders' own clocks and the
    # workers' records. The decrypted basis is shown too, but it measures the inboxes as much
    # as the senders (they unwrap in the bench process, which caps the library's rate).
    basis = "sent"
    if burst:
        print(f"\n2. Burst: {burst['disputes']} disputes published as fast as the Mostro node "
              f"could ({burst['published_s']:.2f} s), {burst['dms']} initial DMs.")
        print(f"   all decrypted by the inboxes after {burst['decrypted_s']:.2f} s "
              f"({burst['decrypted']} of {burst['dms']}) → "
              f"{rate(burst['decrypted'], burst['decrypted_s']):.0f} DM/s")
        print(f"   all recorded sent in the database (relay said OK) after "
              f"{burst['sent_s']:.2f} s → {rate(burst['dms'], burst['sent_s']):.0f} DM/s")
        if burst["missing"]:
            print(f"   {burst['missing']} DMs never reached an inbox; the relay holds "
                  f"{burst['stored_missing']} of them (its fan-out dropped them under the burst)")
        if burst.get("unrecorded"):
            print(f"   {burst['unrecorded']} of the burst's disputes never reached Serbero: the "
                  "relay's fan-out dropped their events to the listener"
                  + (", and more than one relay page (500) of the burst's events share one "
                     "second, which no catch-up can page through (README, Guarantees: the "
                     "limits); the burst is signed before the clock starts, so all its events "
                     "carry one or two seconds" if burst.get("stepped_past_a_second") else ""))
        print(f"   peak queue depth: events {burst['peak_depth']['events']}, "
              f"notify {burst['peak_depth']['notify']}")
        print_stages(burst["stages"], "   hop times during the burst (queueing included)")
        print_cpu(burst["cpu_s"], burst["dms"])
        serbero_rate = rate(burst["dms"], burst["sent_s"])
    if libs:
        print(f"\n3. Library limit (nostr-sdk alone in {libs[0]['senders']} sender process(es) "
              f"of their own, same relay, same inboxes): the daemon's message form "
              f"({libs[0].get('form', '?')}, {libs[0].get('text_length', 0)}-character text) "
              f"built and sent with {PUBLISH_IN_FLIGHT} sends in flight each, with the byte "
              "copy into the bindings that Serbero's processes install; received in the solver "
              "inboxes.")
        rates, decrypted_rates = [], []
        for i, lib in enumerate(libs, 1):
            dec = rate(lib["decrypted"], lib["decrypted_s"])
            snt = rate(lib["dms"], lib["sent_s"])
            rates.append(snt)
            decrypted_rates.append(dec)
            print(f"   round {i}: {lib['dms']} DMs, all decrypted after {lib['decrypted_s']:.2f} s "
                  f"({lib['decrypted']} of {lib['dms']}) → {dec:.0f} DM/s; all OK'd by the relay "
                  f"after {lib['sent_s']:.2f} s → {snt:.0f} DM/s")
            print_cpu(lib["cpu_s"], lib["dms"], indent="     ")
        lib_rate = max(rates)
        print(f"   library limit (best round, {basis} basis): {lib_rate:.0f} DM/s")
    if serbero_rate is not None and lib_rate:
        ratio = serbero_rate / lib_rate
        if burst["missing"] == 0 and all(lib["decrypted"] >= lib["dms"] for lib in libs):
            dec = rate(burst["decrypted"], burst["decrypted_s"]) / max(decrypted_rates)
            print(f"\n   (decrypted basis, capped by the inboxes: {dec:.2f})")
        print(f"\n   burst / library limit ({basis} basis): {serbero_rate:.0f} / {lib_rate:.0f} = "
              f"{ratio:.2f}")
        res["ratio"] = ratio
        out.append((f"burst {serbero_rate:.0f} DM/s >= {TARGET_BURST_RATIO} x library "
                    f"{lib_rate:.0f} DM/s (ratio {ratio:.2f})", ratio >= TARGET_BURST_RATIO))
    top = res.get("ceiling")
    if top and lib_rate:
        top_rate = rate(top["acked"], top["sent_s"])
        print(f"\n2b. Ceiling: the burst's {burst['disputes']} disputes again, from a second "
              f"Mostro node, each answered with {opts.solvers} DMs of the daemon's form by "
              "nostr-sdk alone in one process of its own (subscribed to the node's dispute "
              "events; no queue, no database, no durability): the most any daemon could reach "
              "on this host with this bench's own load.")
        print(f"   {top['acked']} of {top['dms']} DMs OK'd by the relay after "
              f"{top['sent_s']:.2f} s → {top_rate:.0f} DM/s ({top['decrypted']} decrypted)")
        print_cpu(top["cpu_s"], top["dms"])
        res["ceiling_ratio"] = top_rate / lib_rate
        print(f"   ceiling / library limit: {top_rate:.0f} / {lib_rate:.0f} = "
              f"{top_rate / lib_rate:.2f}; burst / ceiling: {serbero_rate:.0f} / "
              f"{top_rate:.0f} = {serbero_rate / top_rate:.2f}")

    rep = res.get("replay")
    if rep:
        print(f"\n4. Replay: {rep['events']} dispute events each re-sent {rep['copies']}x to the "
              f"relay and put {rep['copies']}x straight onto the events queue (queues drained: "
              f"{rep['drained']}).")
        print(f"   the listener handed {rep['listener_enqueued_from_relay']} relay replays to the "
              "queue (the relay and nostr-sdk drop ids they already have)")
        print(f"   extra DMs decrypted: {rep['extra_dms']}   extra outbox rows: "
              f"{rep['extra_outbox_rows']}   extra notifications: {rep['extra_notifications']}   "
              f"extra inbox rows: {rep['extra_inbox_rows']}")
        out.append((f"replay extra DMs {rep['extra_dms']} == 0 (outbox rows "
                    f"{rep['extra_outbox_rows']})",
                    rep["extra_dms"] == 0 and rep["extra_outbox_rows"] == 0 and rep["drained"]))

    mem = res["memory"]
    workers = ", ".join(f"{m:.0f}" for m in mem["worker_rss_mb"])
    print(f"\n5. Memory at the end: listener VmRSS {mem['listener_rss_mb']:.1f} MB (peak VmHWM "
          f"{mem['listener_peak_mb']:.1f} MB); worker processes VmRSS {workers} MB")
    out.append((f"listener RSS {mem['listener_rss_mb']:.1f} MB <= {TARGET_RSS_MB} MB",
                mem["listener_rss_mb"] <= TARGET_RSS_MB))

    print("\nTargets:")
    for text, ok in out:
        print(f"   {verdict(ok)}  {text}")
    return out


def print_stages(stages: dict[str, list[float]], title: str = "   hops (median / p95, from "
                 "the daemon's log stamps, 1 ms resolution)") -> None:
    if not any(n for _, _, n in stages.values()):
        print("   (no hop times: the daemon's log lines were not found)")
        return
    print(title + ":")
    for name, (p50, p95, n) in stages.items():
        print(f"     {name:28} {p50:8.1f} / {p95:8.1f} ms   (n={n:.0f})")


def print_cpu(cpu: dict[str, float], dms: int, indent: str = "   ") -> None:
    machine = cpu.get("whole machine", float("nan"))
    ours = {k: v for k, v in cpu.items() if k != "whole machine"}
    busy = sum(v for k, v in ours.items() if not k.startswith("redis"))
    others = machine - sum(ours.values())
    print(f"{indent}CPU s during the phase: " + ", ".join(f"{k} {v:.2f}" for k, v in ours.items())
          + f"; other processes on the machine {max(others, 0):.2f}")
    print(f"{indent}  → {busy * 1000 / max(dms, 1):.2f} ms of CPU per DM in the bench's own "
          "processes (Redis excluded)")


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        description="Serbero core benchmark: latency, burst throughput against the nostr-sdk "
        "limit, replay, listener memory. Quick run: --disputes 100.")
    p.add_argument("--disputes", "-k", type=int, default=1000, help="K: disputes per phase")
    p.add_argument("--solvers", "-s", type=int, default=3, help="S: solvers (inboxes)")
    p.add_argument("--workers", "-w", type=int, default=1,
                   help="W: worker processes (the CLI's default)")
    p.add_argument("--threads", "-t", type=int, default=8, help="threads per worker process")
    p.add_argument("--rate-ms", type=float, default=100, help="latency phase: ms between disputes")
    p.add_argument("--latency-disputes", type=int, default=None,
                   help="disputes in the latency phase (default: K)")
    p.add_argument("--warmup", type=int, default=20, help="warm-up disputes (not measured)")
    p.add_argument("--lib-senders", type=int, default=None,
                   help="library-limit sender processes (default: W, at least 2: one sender "
                   "process reads the limit lower)")
    p.add_argument("--lib-rounds", type=int, default=2,
                   help="library-limit rounds: one before and the rest after the burst")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to wait for a phase's DMs (default: 30 + KxS/50)")
    p.add_argument("--db-url", default=None,
                   help="PostgreSQL URL (a private schema is created and dropped); default SQLite")
    p.add_argument("--redis-url", default=os.environ.get("SERBERO_REDIS_URL",
                                                         "redis://127.0.0.1:6379/0"))
    p.add_argument("--dispatch-interval", type=int, default=30,
                   help="seconds between escalation dispatcher cycles (enabled during the run)")
    p.add_argument("--format", dest="notice_format", choices=["mostro-v2", "nip17-original"],
                   default=None, help="[notifications].format of the daemon (default: leave it "
                   "out, so the code's own default applies and older code can run)")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-burst", action="store_true")
    p.add_argument("--skip-library", action="store_true")
    p.add_argument("--skip-ceiling", action="store_true",
                   help="leave out the burst answered by nostr-sdk alone (the ceiling)")
    p.add_argument("--skip-replay", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the workspace (config, db, logs)")
    p.add_argument("--profile", dest="profile_dir", type=Path, default=None,
                   help="record py-spy profiles (raw, per function) of the listener and each "
                   "worker during the burst into this directory (needs `pip install py-spy`)")
    p.add_argument("--json", dest="json_path", type=Path, default=None,
                   help="also write the figures to this JSON file")
    a = p.parse_args(argv)
    if min(a.disputes, a.solvers, a.workers, a.threads) < 1 or a.rate_ms <= 0:
        p.error("--disputes, --solvers, --workers, --threads and --rate-ms must be positive")
    if a.db_url and not a.db_url.startswith(("postgres://", "postgresql://")):
        p.error("--db-url takes a postgresql:// URL (SQLite is the default)")
    return Options(
        disputes=a.disputes, solvers=a.solvers, workers=a.workers, threads=a.threads,
        dispatch_interval=a.dispatch_interval, notice_format=a.notice_format,
        rate_ms=a.rate_ms, latency_disputes=a.latency_disputes or a.disputes,
        warmup=max(1, a.warmup), lib_senders=a.lib_senders or max(2, a.workers),
        lib_rounds=max(1, a.lib_rounds),
        timeout_s=a.timeout or 30 + a.disputes * a.solvers / 50, db_url=a.db_url,
        redis_url=a.redis_url, skip_latency=a.skip_latency, skip_burst=a.skip_burst,
        skip_library=a.skip_library, skip_ceiling=a.skip_ceiling, skip_replay=a.skip_replay,
        keep=a.keep,
        json_path=a.json_path, profile_dir=a.profile_dir)


async def amain(bench: Bench) -> int:
    from nostr_sdk import uniffi_set_event_loop

    opts = bench.opts
    loop = asyncio.get_running_loop()
    uniffi_set_event_loop(loop)
    task = asyncio.current_task()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await bench.run()
    finally:
        await bench.close()
    targets = report(opts, bench.results, "PostgreSQL" if opts.db_url else "SQLite (WAL)")
    if opts.json_path:
        opts.json_path.write_text(json.dumps({"options": {k: str(v) for k, v in
                                                          vars(opts).items()},
                                              "results": bench.results,
                                              "targets": targets}, indent=2, default=str))
    return 0 if all(ok for _, ok in targets) else 1


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    ws = Workspace(redis_url=opts.redis_url, pg_url=opts.db_url, keep=opts.keep)
    if ws.swept:
        print(f"removed the Redis keys of {len(ws.swept)} killed earlier run(s): "
              + ", ".join(ws.swept), file=sys.stderr)
    bench = Bench(opts, ws)
    try:
        return asyncio.run(amain(bench))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        ws.keep = True
        print(f"logs kept in {ws.root}", file=sys.stderr)
        raise
    finally:
        bench.stop_processes()  # a no-op after a clean run; the safety net after a crash
        ws.cleanup()
        left = ws.redis_keys()
        print(f"cleaned up: processes stopped, Redis namespace {ws.namespace} "
              f"({left} keys left){'' if not ws.keep else f', workspace kept at {ws.root}'}",
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
