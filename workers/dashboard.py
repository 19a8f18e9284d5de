"""The dramatiq dashboard of this deployment: every actor is declared on the installed broker
(so every queue, idle ones included, is listed); the vendored DashboardApp serves it, with
Serbero's token gate in front (the dashboard has none)."""

from __future__ import annotations

import html
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

import redis

from serbero.config import Secret, redact_url
from serbero.errors import ConfigError
from serbero.ops.http import DASHBOARD_REALM, WSGIApp, guarded
from workers import wiring
from workers._vendor.dramatiq_dashboard import DashboardApp

REALM = DASHBOARD_REALM

log = logging.getLogger(__name__)


def deployment_queues() -> list[str]:
    """The names of every queue this deployment's actors use."""
    wiring.declare_all_actors()
    return sorted(q for q in wiring.broker().get_declared_queues()
                  if not q.endswith((".DQ", ".XQ")))


def dashboard_app(token: Secret | None, redis_url: str) -> WSGIApp:
    """The dashboard as a WSGI app behind the token (none: open, for loopback only), on the
    installed broker, whose Redis is at `redis_url` (named, redacted, when it does not answer)."""
    return guarded(queues_app(redis_url), token, realm=REALM)


def queues_app(redis_url: str) -> WSGIApp:
    """The dashboard without the token gate, for `serbero dashboard` to put behind one gate
    with the web view beside it."""
    if wiring.is_embedded():
        raise ConfigError([
            "SERBERO_REDIS_URL: not set. The dashboard shows the queues workers share in Redis; "
            "the embedded broker of `serbero run` keeps them in memory. Set it to the Redis the "
            "workers use (e.g. redis://127.0.0.1:6379/0)."])
    wiring.declare_all_actors()
    return while_redis_answers(DashboardApp(broker=wiring.broker(), prefix=""),
                               redact_url(redis_url))


def while_redis_answers(app: WSGIApp, where: str) -> WSGIApp:
    """`app`, or while Redis does not answer a page that says so (503) and one warning line
    per request, instead of a bare 500 and a traceback in the log (issue 10)."""
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        except redis.RedisError as exc:
            log.warning("dashboard_redis_unavailable", extra={"redis": where, "error": str(exc)})
            body = _redis_down_page(where, str(exc))
            start_response("503 Service Unavailable", [
                ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                ("Retry-After", "10")], sys.exc_info())
            return [body]
    return wrapped


def _redis_down_page(where: str, error: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Redis does not answer"
        "</title></head><body><h1>Redis does not answer</h1>"
        f"<p>The dashboard shows the job queues kept in Redis at <code>{html.escape(where)}"
        f"</code>, which does not answer: <code>{html.escape(error)}</code>.</p>"
        "<p>Disputes are not lost while Redis is down: the database holds them, and the "
        "daemon re-derives pending work once Redis is back. Start Redis (or fix "
        "SERBERO_REDIS_URL), then reload this page.</p></body></html>").encode()
