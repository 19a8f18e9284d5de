"""The worker process's Runtime: installed by `serbero run` and tests, or opened on first use
from the configuration in a `dramatiq workers` process (after fork, so nothing is shared)."""

from __future__ import annotations

import threading

from serbero import config
from serbero.runtime import Runtime

_runtime: Runtime | None = None
_lock = threading.Lock()


def install(rt: Runtime | None) -> None:
    global _runtime  # noqa: PLW0603 - one runtime per process, by design
    with _lock:
        _runtime = rt


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime.open(config.load())
    return _runtime
