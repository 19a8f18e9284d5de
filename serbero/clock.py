"""The clock: the one place Serbero asks for the time, so tests can move it."""

import time


def now() -> int:
    """Unix seconds, as stored in every timestamp column."""
    return int(time.time())


def now_ms() -> int:
    """Unix milliseconds, for latency figures only; state decisions use `now()`."""
    return int(time.time() * 1000)
