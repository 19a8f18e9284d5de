"""Scale-out curve (issue 8): burst throughput with 1, 2 and 4 worker processes on PostgreSQL,
printed as ratios to one process. Each point is a run of bench_core.py (burst phase only, the
same K disputes x S solvers); the runs are interleaved (1, 2, 4, 1, 2, 4, ...) so the machine's
drifting load spreads over every point. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"


def one_run(workers: int, opts: argparse.Namespace) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [sys.executable, str(Path(__file__).with_name("bench_core.py")),
                "--disputes", str(opts.disputes), "--workers", str(workers),
                "--threads", str(opts.threads), "--db-url", opts.db_url, "--skip-latency",
                "--skip-library", "--skip-replay", "--json", out.name]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
        try:
            results = json.loads(Path(out.name).read_text())["results"]
        except (OSError, ValueError, KeyError):
            sys.stderr.write(done.stdout[-2000:] + done.stderr[-2000:])
            raise RuntimeError(f"the run with {workers} worker process(es) failed") from None
    burst = results["burst"]
    return {"workers": workers, "dm_s": burst["dms"] / burst["sent_s"],
            "missing": burst["missing"], "cpu_s": burst["cpu_s"], "load": results["load"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--disputes", "-k", type=int, default=300)
    p.add_argument("--threads", "-t", type=int, default=8)
    p.add_argument("--points", type=int, nargs="+", default=[1, 2, 4],
                   help="worker process counts")
    p.add_argument("--rounds", type=int, default=2, help="runs per point, interleaved")
    p.add_argument("--db-url", default=DEFAULT_DB)
    opts = p.parse_args(argv)
    runs: dict[int, list[dict]] = {w: [] for w in opts.points}
    for r in range(opts.rounds):
        for w in opts.points:
            run = one_run(w, opts)
            runs[w].append(run)
            print(f"round {r + 1}, {w} worker process(es): {run['dm_s']:.0f} DM/s "
                  f"(load {run['load'][0]} → {run['load'][-1]})", flush=True)
    base = statistics.median(x["dm_s"] for x in runs[opts.points[0]])
    print(f"\nScale-out on PostgreSQL: K={opts.disputes} disputes x 3 solvers, "
          f"{opts.threads} threads per process; burst DM/s (relay said OK), median of "
          f"{opts.rounds} runs, as a ratio to {opts.points[0]} process(es)")
    print(f"   {'processes':>9} {'DM/s (runs)':>24} {'ratio':>6} {'workers CPU s / DM (ms)':>24}")
    for w in opts.points:
        rates = [x["dm_s"] for x in runs[w]]
        cpu = statistics.median(x["cpu_s"]["workers"] * 1000 / (opts.disputes * 3)
                                for x in runs[w])
        shown = ", ".join(f"{v:.0f}" for v in rates)
        print(f"   {w:9d} {shown:>24} {statistics.median(rates) / base:6.2f} {cpu:24.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
