"""How fast the web view answers with 10,000 disputes: a real `serbero dashboard` over rows
seeded as the daemon writes them (bench/web_seed.py), on SQLite and on PostgreSQL, timed from
a client on loopback: the list, each filter, a deep page, dispute pages and the charts, p50 and
p95 of each.

    .venv/bin/python -m bench.bench_web [--disputes 10000] [--rounds 30] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import urllib.request

from bench import web_seed
from bench.web_workspace import TOKEN, workspace


def _get(url: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()
        assert reply.status == 200, reply.status
    return (time.perf_counter() - started) * 1000


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q / 100 * len(ordered)) - 1)]


def pages(ids: list[str]) -> dict[str, list[str]]:
    rnd = random.Random(3)
    return {
        "list": ["/web/"],
        "list ?state=taken": ["/web/?state=taken"],
        "list ?age=gt7d&state=resolved": ["/web/?age=gt7d&state=resolved"],
        "list ?solver=…": [f"/web/?solver={web_seed.SOLVERS[0]}"],
        "list ?escalated=yes": ["/web/?escalated=yes"],
        "list ?mediated=no": ["/web/?mediated=no"],
        "list ?q=<prefix>": [f"/web/?q={i[:4]}" for i in rnd.sample(ids, 20)],
        "list page 150": ["/web/?page=150"],
        "dispute page": [f"/web/disputes/{i}" for i in rnd.sample(ids, 50)],
        "dispute page, party text": [f"/web/disputes/{i}?party_text=1"
                                     for i in rnd.sample(ids, 20)],
        "charts 7d": ["/web/charts?window=7d"],
        "charts 90d": ["/web/charts?window=90d"],
    }


def run(backend: str, disputes: int, rounds: int) -> None:
    started = time.perf_counter()
    with workspace(disputes, backend=backend) as ws:
        seeded_s = time.perf_counter() - started
        print(f"\n{backend}: {disputes} disputes seeded in {seeded_s:.1f} s "
              f"(dashboard at {ws.url})")
        print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, paths in pages(ws.ids).items():
            _get(ws.url + paths[0])  # warm the connection and the caches once
            times = [_get(ws.url + paths[i % len(paths)]) for i in range(rounds)]
            print(f"{name:32} {statistics.median(times):8.1f} {_p(times, 95):8.1f} "
                  f"{max(times):8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        run(backend, args.disputes, args.rounds)


if __name__ == "__main__":
    main()
