"""An outage as the log tells it: one warning when a dependency (Redis, the database) stops
answering, one line per minute while it stays down, and one when it is back, however many
calls failed in between, and never a traceback. Callers report every failure and success; the
tracker decides what is worth a line, and tells the caller when the dependency came back (the
moment to re-read what could not be handed over).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

#: Seconds between two "still unreachable" lines of one outage.
REPEAT_EVERY_S = 60.0
#: Characters of an error kept in a log line.
ERROR_CHARS = 200


def is_connection_error(exc: BaseException) -> bool:
    """Whether `exc` says Redis (or the network to it) is unreachable, not that one call was
    wrong: such errors open an outage instead of being logged one by one."""
    return isinstance(exc, redis.ConnectionError | redis.TimeoutError | OSError)


class Outage:
    """The availability of one dependency in one process, safe to report from any thread."""

    def __init__(self, what: str, logger: logging.Logger, *, repeat_every_s: float = REPEAT_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.log = logger
        self.repeat_every_s = repeat_every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_line = 0.0
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, exc: BaseException | str) -> bool:
        """Report a failed call; return True when it opened the outage."""
        error = (exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}")[:ERROR_CHARS]
        now = self.clock()
        with self._lock:
            self._failures += 1
            opened = self._down_since is None
            if opened:
                self._down_since = now
            elif now - self._last_line < self.repeat_every_s:
                return False
            self._last_line = now
            down_for_s, failures = now - self._down_since, self._failures
        if opened:
            self.log.warning(f"{self.what}_unreachable", extra={"error": error})
        else:
            self.log.warning(f"{self.what}_still_unreachable", extra={
                "down_for_s": round(down_for_s), "failures": failures, "error": error})
        return opened

    def ok(self) -> bool:
        """Report a call that worked; return True when it closed an outage."""
        if self._down_since is None:  # the common case, without the lock
            return False
        with self._lock:
            if self._down_since is None:
                return False
            down_for, failures = self.clock() - self._down_since, self._failures
            self._down_since, self._failures = None, 0
        self.log.warning(f"{self.what}_back", extra={"down_for_s": round(down_for, 1),
                                                     "failures": failures})
        return True

    def down_for_s(self) -> float | None:
        since = self._down_since
        return None if since is None else self.clock() - since
