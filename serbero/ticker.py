"""The ticker: fires each periodic job once per period across the whole cluster.

Time is cut into buckets of one period; a job fires for a bucket only if this process wins the
bucket's claim (a Redis SET NX shared by every listener, or a local claim when there is no
Redis). Two listeners for redundancy therefore never double a job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

Claim = Callable[[str, int, int], bool]


class LocalClaims:
    """Claims for a single process (the embedded broker): each bucket is won once."""

    def __init__(self) -> None:
        self._won: dict[str, int] = {}

    def __call__(self, name: str, bucket: int, period_s: int) -> bool:
        if self._won.get(name, -1) >= bucket:
            return False
        self._won[name] = bucket
        return True


class RedisClaims:
    """Claims shared through Redis: the first process to SET NX a bucket's key wins it."""

    def __init__(self, client, namespace: str, owner: str) -> None:
        self.client = client
        self.namespace = namespace
        self.owner = owner

    def __call__(self, name: str, bucket: int, period_s: int) -> bool:
        key = f"{self.namespace}:tick:{name}:{bucket}"
        return bool(self.client.set(key, self.owner, nx=True, ex=max(3 * period_s, 10)))


def _log_failure(name: str, exc: Exception) -> None:
    log.error("tick_failed", exc_info=exc, extra={"job": name})


class Ticker:
    def __init__(self, periods: dict[str, int], *, claim: Claim,
                 fire: Callable[[str, int], None],
                 on_error: Callable[[str, Exception], None] = _log_failure) -> None:
        self.periods = dict(periods)
        self.claim = claim
        self.fire = fire
        #: Told of a job that could not be claimed or fired (a Redis outage is one line, not
        #: one per job and period: the listener passes its outage tracker).
        self.on_error = on_error
        self._last: dict[str, int] = {}

    def tick_once(self, now: float) -> list[str]:
        """Fire every job whose current bucket this process has not seen and wins; return them."""
        fired = []
        for name, period in self.periods.items():
            bucket = int(now // period)
            if self._last.get(name) == bucket:
                continue
            self._last[name] = bucket
            try:
                if self.claim(name, bucket, period):
                    self.fire(name, bucket)
                    fired.append(name)
            except Exception as exc:  # a Redis blip must not stop the ticker; the next turn retries
                self.on_error(name, exc)
                self._last.pop(name, None)
        return fired
