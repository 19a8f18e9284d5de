"""The dramatiq dashboard of this deployment: every actor is declared on the installed broker
(so every queue, idle ones included, is listed); the vendored DashboardApp serves it, with
Serbero's token gate in front (the dashboard has none)."""

from __future__ import annotations

from serbero.config import Secret
from serbero.errors import ConfigError
from serbero.ops.http import WSGIApp, guarded
from workers import wiring
from workers._vendor.dramatiq_dashboard import DashboardApp
from workers.broker import HEARTBEAT_TIMEOUT_MS

#: A broker silent longer than this is presumed dead by dramatiq, so not counted alive (s).
ALIVE_WITHIN_S = HEARTBEAT_TIMEOUT_MS / 1000
REALM = "serbero dashboard"


def deployment_queues() -> list[str]:
    """The names of every queue this deployment's actors use."""
    wiring.declare_all_actors()
    return sorted(q for q in wiring.broker().get_declared_queues()
                  if not q.endswith((".DQ", ".XQ")))


def dashboard_app(token: Secret | None) -> WSGIApp:
    """The dashboard as a WSGI app behind the token (none: open, for loopback only)."""
    if wiring.is_embedded():
        raise ConfigError([
            "SERBERO_REDIS_URL: not set. The dashboard shows the queues workers share in Redis; "
            "the embedded broker of `serbero run` keeps them in memory. Set it to the Redis the "
            "workers use (e.g. redis://127.0.0.1:6379/0)."])
    wiring.declare_all_actors()
    return guarded(DashboardApp(broker=wiring.broker(), prefix=""), token, realm=REALM)
