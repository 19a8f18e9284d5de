"""The supervisor of `serbero worker`: keeps N worker processes (`python -m
serbero_workers.process`) running. A child that dies is logged and replaced, and the others are
left alone; one that keeps dying young is replaced after a growing pause, and one that fails at
boot with a configuration error (exit code 2) stops them all with that code, since restarting
cannot help. SIGTERM or SIGINT stops every child gracefully (each finishes its jobs or gives them
back to Redis) and exits 0.

dramatiq's own supervisor (`dramatiq serbero_workers.wiring:boot`) stops every worker when one dies
and relies on an outside restart; this one does not. It imports nothing but the standard library
and `serbero.logs`, so it costs a few megabytes, not a worker's.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from serbero import logs

log = logging.getLogger("serbero.supervisor")

#: Pauses before replacing a child that died young, by how many times in a row it did.
RESTART_PAUSES_S = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)
#: A child that ran this long before dying starts the pauses over.
YOUNG_S = 30.0
#: The exit code of a child that cannot boot with this configuration (as `dramatiq` uses it).
CONFIG_EXIT = 2
#: How often the supervisor looks at its children.
POLL_S = 0.2


@dataclass
class Child:
    slot: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    deaths: int = 0
    restart_at: float | None = None


class Supervisor:
    def __init__(self, argv: list[str], processes: int, *, shutdown_timeout_s: float) -> None:
        self.argv = argv
        self.children = [Child(slot) for slot in range(processes)]
        self.shutdown_timeout_s = shutdown_timeout_s
        self.stopping = False
        self.exit_code = 0

    def start(self, child: Child, *, replacing: int | None = None) -> None:
        child.proc = subprocess.Popen(self.argv)  # noqa: S603 - our own interpreter and module
        child.started_at, child.restart_at = time.monotonic(), None
        if replacing is None:
            log.info("worker_process_started", extra={"slot": child.slot, "pid": child.proc.pid})
        else:
            log.warning("worker_process_replaced", extra={
                "slot": child.slot, "pid": child.proc.pid, "replaced_pid": replacing})

    def check_once(self) -> None:
        """Notice children that died, and start the replacements that are due."""
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc is not None and child.restart_at is None and proc.poll() is not None:
                self._died(child, proc, now)
            if child.restart_at is not None and now >= child.restart_at and not self.stopping:
                self.start(child, replacing=proc.pid if proc is not None else None)

    def _died(self, child: Child, proc: subprocess.Popen[bytes], now: float) -> None:
        ran_s = now - child.started_at
        code = proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if code == CONFIG_EXIT and ran_s < YOUNG_S:
            log.error("worker_process_cannot_boot", extra={"pid": proc.pid, "exit": how})
            self.exit_code, self.stopping = CONFIG_EXIT, True
            child.restart_at = None
            return
        child.deaths = child.deaths + 1 if ran_s < YOUNG_S else 1
        pause = RESTART_PAUSES_S[min(child.deaths - 1, len(RESTART_PAUSES_S) - 1)]
        child.restart_at = now + pause
        log.warning("worker_process_died", extra={"slot": child.slot, "pid": proc.pid,
                                                  "exit": how, "ran_s": round(ran_s, 1),
                                                  "replaced_in_s": pause})

    def stop_all(self) -> None:
        """SIGTERM every child, wait for them, SIGKILL what is left after the timeout."""
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        log.info("worker_processes_stopping", extra={"count": len(running)})
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout_s
        for proc in running:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("worker_process_killed", extra={"pid": proc.pid})
                proc.kill()
                proc.wait()
        log.info("worker_processes_stopped")

    def run(self) -> int:
        for child in self.children:
            self.start(child)
        while not self.stopping:
            self.check_once()
            time.sleep(POLL_S)
        self.stop_all()
        return self.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serbero-supervisor", description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--queues", nargs="*", default=[])
    parser.add_argument("--shutdown-timeout-ms", type=int, default=30_000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--log-format", default="logfmt")
    args = parser.parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    child = [sys.executable, "-m", "serbero_workers.process", "--threads", str(args.threads),
             "--shutdown-timeout-ms", str(args.shutdown_timeout_ms)]
    if args.queues:
        child += ["--queues", *args.queues]
    supervisor = Supervisor(child, args.processes,
                            shutdown_timeout_s=args.shutdown_timeout_ms / 1000 + 5)

    def stop(signum: int, frame: object) -> None:
        log.info("shutdown signal received, stopping",
                 extra={"signal": signal.Signals(signum).name})
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("supervisor_started", extra={"pid": os.getpid(), "processes": args.processes,
                                          "threads": args.threads})
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
