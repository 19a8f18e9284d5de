"""The clock: the one place Serbero asks for the time, so tests can move it."""

import time
from datetime import UTC, datetime


def now() -> int:
    """Unix seconds, as stored in every timestamp column."""
    return int(time.time())


def now_ms() -> int:
    """Unix milliseconds, for latency figures only; state decisions use `now()`."""
    return int(time.time() * 1000)


def utc_text(ts: float | None) -> str:
    """A stored timestamp as operators read it (UTC, to the second); `-` when there is none."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"
