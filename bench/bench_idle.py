"""Idle cost (issue 8): what an idle `serbero listen` + `serbero worker` deployment costs, in CPU
and memory, and whether the first disputes after a long quiet still meet the latency target.

It starts the core bench's processes (relay, simulated Mostro node and solver inboxes in this
process; the real listener and workers as children), sends a few warm-up disputes, lets them
settle, then samples /proc for `--seconds`: CPU time (user + system) and VmRSS of the listener,
the worker supervisor and every worker process. Then, after the quiet, `--probe` disputes one
every `--probe-interval-s` (idle between them) are timed from publish to decrypted. Exit 1
over a target. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import bench_core
import harness
from bench_core import Bench

TARGET_CPU_PCT = 2.0
TARGET_RSS_MB = 150
#: Seconds after the warm-up before sampling starts: start-up work and first ticks are done.
SETTLE_S = 10.0


def pss_mb(pid: int) -> float:
    """Proportional set size (shared pages divided among the processes sharing them)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class IdleBench(Bench):
    def pids(self) -> dict[str, int]:
        out = {"listener": self.listener.pid, "worker supervisor": self.workers.pid}
        for i, pid in enumerate(sorted(harness.children_of(self.workers.pid))):
            out[f"worker process {i + 1}"] = pid
        return out

    async def sample(self, seconds: float) -> dict[str, dict[str, float]]:
        pids = self.pids()
        cpu0 = {name: harness.cpu_seconds(pid) for name, pid in pids.items()}
        redis0 = self._redis_cpu()
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        self.check_alive()
        wall = time.monotonic() - t0
        if self.pids() != pids:
            raise RuntimeError("a worker process was replaced while sampling; see the logs in "
                               f"{self.ws.root}")
        out = {name: {"cpu_pct": (harness.cpu_seconds(pid) - cpu0[name]) / wall * 100,
                      "rss_mb": harness.memory_mb(pid)[0], "pss_mb": pss_mb(pid)}
               for name, pid in pids.items()}
        out["redis-server (shared, not counted)"] = {
            "cpu_pct": (self._redis_cpu() - redis0) / wall * 100, "rss_mb": float("nan"),
            "pss_mb": float("nan")}
        return out

    def _redis_cpu(self) -> float:
        info = self.ws.redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def amain(bench: IdleBench, seconds: float) -> dict:
    from nostr_sdk import uniffi_set_event_loop

    uniffi_set_event_loop(asyncio.get_running_loop())
    try:
        await bench.start()
        await bench.warm_up()
        print(f"settling for {SETTLE_S:g} s, then sampling for {seconds:g} s…", flush=True)
        await asyncio.sleep(SETTLE_S)
        figures = await bench.sample(seconds)
        if bench.opts.latency_disputes:
            await bench.latency(label="after the quiet", key="latency")
    finally:
        await bench.close()
    return figures


def report(figures: dict, res: dict, seconds: float, opts: bench_core.Options) -> bool:
    print(f"\nIdle deployment: serbero listen + serbero worker -p {opts.workers} -t "
          f"{opts.threads}, {seconds:g} s sampled after a {SETTLE_S:g} s settle; machine "
          f"load average {harness.loadavg()}")
    print(f"   {'process':36} {'CPU % of a core':>16} {'VmRSS MB':>9} {'PSS MB':>8}")
    total_cpu = total_rss = total_pss = 0.0
    for name, f in figures.items():
        print(f"   {name:36} {f['cpu_pct']:16.2f} {f['rss_mb']:9.1f} {f['pss_mb']:8.1f}")
        if not name.startswith("redis"):
            total_cpu += f["cpu_pct"]
            total_rss += f["rss_mb"]
            total_pss += f["pss_mb"]
    print(f"   {'total (Redis excluded)':36} {total_cpu:16.2f} {total_rss:9.1f} {total_pss:8.1f}")
    ok = total_cpu <= TARGET_CPU_PCT and total_rss <= TARGET_RSS_MB
    checks = [(f"idle CPU {total_cpu:.2f} % <= {TARGET_CPU_PCT} % of a core",
               total_cpu <= TARGET_CPU_PCT),
              (f"idle RSS {total_rss:.1f} MB <= {TARGET_RSS_MB} MB", total_rss <= TARGET_RSS_MB)]
    lat = res.get("latency")
    if lat:
        print(f"\nAfter the quiet: {lat['disputes']} disputes, one every {lat['rate_ms'] / 1000:g} "
              f"s; {lat['dms']} DMs ({lat['lost']} lost): p50 {lat['p50_ms']:.1f} ms, p99 "
              f"{lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms")
        lat_ok = (not lat["lost"] and lat["p50_ms"] <= bench_core.TARGET_P50_MS
                  and lat["p99_ms"] <= bench_core.TARGET_P99_MS)
        checks.append((f"latency after the quiet p50 {lat['p50_ms']:.1f} <= "
                       f"{bench_core.TARGET_P50_MS}, p99 {lat['p99_ms']:.1f} <= "
                       f"{bench_core.TARGET_P99_MS} ms", lat_ok))
        ok = ok and lat_ok
    print("\nTargets:")
    for text, passed in checks:
        print(f"   {bench_core.verdict(passed)}  {text}")
    return ok


def cli_worker_defaults() -> dict[str, int]:
    """`serbero worker`'s own defaults for -p and -t."""
    from serbero.cli import worker

    return {p.name: p.default for p in worker.params if p.name in ("processes", "threads")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60, help="sampling window")
    p.add_argument("--workers", "-w", type=int, default=None,
                   help="serbero worker -p (default: the CLI's default)")
    p.add_argument("--threads", "-t", type=int, default=None,
                   help="serbero worker -t (default: the CLI's default)")
    p.add_argument("--probe", type=int, default=10,
                   help="disputes timed after the quiet (0: none)")
    p.add_argument("--probe-interval-s", type=float, default=2.0)
    p.add_argument("--db-url", default=None)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args(argv)
    core = ["--disputes", "1", "--warmup", "5", "--rate-ms", str(a.probe_interval_s * 1000),
            "--latency-disputes", str(max(a.probe, 1)), "--redis-url", a.redis_url,
            "--timeout", "30"]
    if a.db_url:
        core += ["--db-url", a.db_url]
    defaults = cli_worker_defaults()
    core += ["--workers", str(a.workers or defaults["processes"]),
             "--threads", str(a.threads or defaults["threads"])]
    opts = bench_core.parse_args(core)
    if not a.probe:
        opts.latency_disputes = 0
    opts.keep = a.keep
    ws = harness.Workspace(redis_url=opts.redis_url, pg_url=opts.db_url, keep=opts.keep)
    bench = IdleBench(opts, ws)
    try:
        figures = asyncio.run(amain(bench, a.seconds))
        return 0 if report(figures, bench.results, a.seconds, opts) else 1
    except Exception:
        ws.keep = True
        print(f"logs kept in {ws.root}", file=sys.stderr)
        raise
    finally:
        bench.stop_processes()
        ws.cleanup()


if __name__ == "__main__":
    sys.exit(main())
