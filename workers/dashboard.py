"""The dramatiq dashboard of this deployment: every actor module is imported so that every
queue, idle ones included, is declared on the broker the dashboard lists; the vendored
DashboardApp serves it, with Serbero's token gate in front (the dashboard has none)."""

from __future__ import annotations

import importlib
import pkgutil

import workers
from serbero.config import Secret
from serbero.errors import ConfigError
from serbero.ops.http import WSGIApp, guarded
from workers._vendor.dramatiq_dashboard import DashboardApp
from workers.broker import HEARTBEAT_TIMEOUT_MS, broker, is_embedded

#: Modules of this package that declare no actors; every other one is imported.
NOT_ACTOR_MODULES = frozenset({"broker", "context", "dashboard", "embedded"})
#: A broker silent longer than this is presumed dead by dramatiq, so not counted alive (s).
ALIVE_WITHIN_S = HEARTBEAT_TIMEOUT_MS / 1000
REALM = "serbero dashboard"


def declare_all_actors() -> None:
    """Import every actor module of `workers`, declaring its queues on the broker."""
    for info in pkgutil.iter_modules(workers.__path__):
        if not info.name.startswith("_") and info.name not in NOT_ACTOR_MODULES:
            importlib.import_module(f"{workers.__name__}.{info.name}")


def deployment_queues() -> list[str]:
    """The names of every queue this deployment's actors use."""
    declare_all_actors()
    return sorted(q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))


def dashboard_app(token: Secret | None) -> WSGIApp:
    """The dashboard as a WSGI app behind the token (none: open, for loopback only)."""
    if is_embedded():
        raise ConfigError([
            "SERBERO_REDIS_URL: not set. The dashboard shows the queues workers share in Redis; "
            "the embedded broker of `serbero run` keeps them in memory. Set it to the Redis the "
            "workers use (e.g. redis://127.0.0.1:6379/0)."])
    declare_all_actors()
    return guarded(DashboardApp(broker=broker, prefix=""), token, realm=REALM)
