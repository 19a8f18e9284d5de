"""One worker process of `serbero worker` (its supervisor is `serbero.supervisor`): boots as
`dramatiq serbero_workers.wiring:boot` does (configuration, broker, actors, then `process_boot`:
logging, database, relays), runs a dramatiq worker on its queues until SIGTERM or SIGINT, then lets
the jobs it holds finish (or gives them back to Redis) and exits 0.

What dramatiq's CLI adds around a worker (log pipes to a parent, forks, file watching) is not
needed here: logs go straight to stderr, as `serbero.logs` writes them.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import dramatiq

from serbero import config, drivers
from serbero.errors import ConfigError

log = logging.getLogger("serbero_workers.process")  # not __main__, as `python -m` names it

#: The exit code of a process that cannot boot with this configuration.
CONFIG_EXIT = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serbero-worker-process")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--queues", nargs="*", default=[])
    parser.add_argument("--shutdown-timeout-ms", type=int, default=30_000)
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())

    try:
        settings = config.load()
        # The wiring imports peewee: only once the database is known (`serbero.drivers`).
        drivers.load_only_needed(settings.db_url)
        from serbero_workers import broker as brokers
        from serbero_workers import wiring

        wiring.boot(settings)
    except ConfigError as exc:  # the supervisor stops on this code: a restart cannot help
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return CONFIG_EXIT
    jobs = wiring.broker()
    jobs.emit_after("process_boot")
    worker = dramatiq.Worker(jobs, queues=args.queues or None, worker_threads=args.threads,
                             worker_timeout=brokers.IDLE_POLL_MS)
    worker.start()
    log.info("worker_process_ready", extra={"threads": args.threads,
                                            "queues": " ".join(args.queues) or "all"})
    while not stop.wait(1.0):
        pass
    log.info("worker_process_stopping")
    worker.stop(timeout=args.shutdown_timeout_ms)
    jobs.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
