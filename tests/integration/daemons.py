"""The real `serbero` command as a long-running process, the way an operator starts it: its own
process, an environment without this session's SERBERO_* variables, stderr in a file the test
reads as it grows, and a stop by signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class Daemon:
    def __init__(self, *args: str, env: dict[str, str], cwd: Path | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SERBERO_")}
        # closed by close()
        self._err = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115
        self._out = tempfile.NamedTemporaryFile("w+", suffix=".out")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "serbero", *args],
                                     env={**clean, **env}, cwd=cwd, stdout=self._out,
                                     stderr=self._err, text=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return Path(self._err.name).read_text()

    def stdout(self) -> str:
        return Path(self._out.name).read_text()

    def lines(self, event: str) -> list[str]:
        """The log lines of one event (logfmt: the fourth field)."""
        return [line for line in self.stderr().splitlines()
                if len(parts := line.split(" ", 4)) > 3 and parts[3] == event]

    def wait_for(self, event: str, count: int = 1, timeout_s: float = 20.0) -> list[str]:
        """Wait until `event` was logged `count` times; its lines."""
        deadline = time.monotonic() + timeout_s
        while len(found := self.lines(event)) < count:
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.stderr()}"
            assert time.monotonic() < deadline, f"{event} x{count} not logged:\n{self.stderr()}"
            time.sleep(0.05)
        return found

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._err.close()
        self._out.close()
