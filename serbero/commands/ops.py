"""Operator commands: `serbero dashboard`, `serbero status` and `serbero metrics`.

A thin layer over `serbero.ops` (figures, snapshot, HTTP serving) and `workers.dashboard` (the
queues the actors declare); the commands register themselves on the `cli` group.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from serbero import config, logs
from serbero.cli import cli, config_option, domain_errors, load_settings, needs_redis, open_db
from serbero.ops.http import (
    DASHBOARD_REALM,
    Endpoint,
    bind,
    guarded,
    require_token_off_loopback,
)

log = logging.getLogger(__name__)

DEFAULT_DASHBOARD_PORT = 8089
DEFAULT_METRICS_PORT = 9464


def _host_option(fn: Any) -> Any:
    return click.option("--host", default="127.0.0.1", show_default=True,
                        help="Address to listen on; off loopback a token is required.")(fn)


def _port_option(default: int) -> Any:
    return click.option("--port", default=default, show_default=True,
                        type=click.IntRange(0, 65535), help="Port to listen on (0: any free one).")


def _serve(endpoint: Endpoint, what: str, url: str) -> None:
    """Serve until SIGINT or SIGTERM, printing where first."""
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # waitress's run() takes SystemExit as the signal to close

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"{what} on {url}")
    sys.stdout.flush()
    endpoint.serve_forever()
    click.echo(f"{what} stopped")


def _queues(settings: config.Settings) -> tuple[list[str], float]:
    """The deployment's queue names and the heartbeat age under which a process is alive."""
    from serbero.liveness import ALIVE_WITHIN_S

    if not settings.redis_url:
        return [], ALIVE_WITHIN_S
    from workers import wiring
    from workers.dashboard import deployment_queues

    wiring.install(settings)
    return deployment_queues(), ALIVE_WITHIN_S


def _config_found(config_path: Path | None) -> bool:
    """Whether the dashboard has a configuration file to open the web view with: named by
    --config or SERBERO_CONFIG, or ./config.toml."""
    return (config_path is not None or bool(os.environ.get("SERBERO_CONFIG"))
            or Path(config.DEFAULT_CONFIG_PATH).exists())


def _web_actions(settings: config.Settings) -> Any:
    """The web view's two forms, wired as `serbero escalate` is: write, commit, then enqueue
    (without Redis, `serbero run`'s scans pick the work up: the database holds it)."""
    from serbero import clock
    from serbero.commands.escalation import enqueue_dispatch
    from serbero.escalation import manual
    from serbero.ops.web.actions import Actions
    from serbero.outbox.requeue import requeue

    def escalate(dispute_id: str, operator: str, note: str | None) -> str:
        result = manual.escalate(dispute_id, settings=settings, operator=operator,
                                 now=clock.now(), note=note)
        if not result.prepared.created:
            return "already_escalated"
        enqueue_dispatch(result.prepared.handoff_id, settings)
        return "escalated"

    def requeue_row(row_id: int, operator: str) -> str:
        follow_up = requeue(row_id, now=clock.now(), operator=operator)
        if settings.redis_url:
            from workers import wiring

            try:
                wiring.follow_up(follow_up)
            except Exception as exc:  # the row is due now: the outbox tick sends it anyway
                log.warning("web_requeue_enqueue_failed", extra={"outbox_id": row_id,
                                                                 "error": type(exc).__name__})
        return "requeued"

    return Actions(escalate=escalate, requeue=requeue_row)


@cli.command()
@config_option
@_host_option
@_port_option(DEFAULT_DASHBOARD_PORT)
@domain_errors
def dashboard(config_path: Path | None, host: str, port: int) -> None:
    """Serve the operator web view (/web/: disputes, their timelines, charts, escalation) and,
    with SERBERO_REDIS_URL, the dramatiq dashboard of this deployment's queues (/).

    Every request needs SERBERO_DASHBOARD_TOKEN, as `Authorization: Bearer <token>` or as the
    basic-auth password (a browser asks for it; any user name, which the audit trail of an
    escalation records). Without a token the dashboard is served on loopback addresses only.
    The web view needs the configuration file (--config, $SERBERO_CONFIG or ./config.toml);
    without one only the queues are served.

    \b
    Example:
        export SERBERO_DASHBOARD_TOKEN=$(openssl rand -hex 32)
        serbero dashboard -c config.toml --port 8089    # then open http://127.0.0.1:8089/web/
    """
    settings = load_settings(config_path) if _config_found(config_path) else None
    service = settings or config.load_service()
    logs.setup(service.log_level, service.log_format)
    token = service.dashboard_token
    require_token_off_loopback(host, token, env_name="SERBERO_DASHBOARD_TOKEN",
                               what="the dashboard, which can requeue jobs and escalate "
                                    "disputes,")
    if settings is None:
        needs_redis(service, "dashboard", "without a configuration file shows only the queues "
                    "workers share in Redis (the embedded broker of `serbero run` keeps them in "
                    "memory); give it --config for the web view")
    sock = bind(host, port)
    queues = None
    if service.redis_url:
        from workers import wiring
        from workers.dashboard import queues_app

        wiring.install(service)
        queues = queues_app(service.redis_url)
    app = queues
    if settings is not None:
        from serbero.ops.web import WebView, beside

        open_db(settings, create=False)
        app = beside(WebView(settings, _web_actions(settings),
                             queues_url="/" if queues else None), queues)
    assert app is not None  # settings or Redis: checked above
    endpoint = Endpoint(guarded(app, token, realm=DASHBOARD_REALM), sock,
                        name="serbero-dashboard")
    guard = "token required" if token else "no token set: anyone on this host can use it"
    where = f"http://{host}:{endpoint.port}/"
    if settings is not None:
        where += f" (web view at {where}web/)"
    _serve(endpoint, "dashboard", f"{where} ({guard})")


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@domain_errors
def status(config_path: Path | None, as_json: bool) -> None:
    """Print at a glance: listeners and each relay's state, worker processes consuming, queue
    depths and dead letters, disputes by state, the oldest unattended dispute and pending
    handoffs. Listeners and workers are read from their heartbeats in the database, so this
    works in every mode, `serbero run` and a Redis that is down included.

    \b
    Example:
        serbero status -c config.toml
        serbero status --json | jq .disputes
    """
    from serbero.ops import snapshot
    from serbero.ops.status import as_dict, render

    settings = load_settings(config_path)
    open_db(settings, create=False, upgrade=False)
    names, alive_within_s = _queues(settings)
    snap = snapshot.take(settings, names, alive_within_s=alive_within_s)
    if as_json:
        click.echo(json.dumps(as_dict(snap), indent=2, sort_keys=True))
        return
    for line in render(snap):
        click.echo(line)


@cli.command()
@config_option
@_host_option
@_port_option(DEFAULT_METRICS_PORT)
@domain_errors
def metrics(config_path: Path | None, host: str, port: int) -> None:
    """Serve Prometheus metrics at /metrics: the figures of `serbero status`, notifications
    sent and failed, rejected events by reason, escalations by trigger and the detection →
    DM-published latency histogram, computed from the database and Redis at each scrape.

    When SERBERO_METRICS_TOKEN is set, scrapes need it (bearer token or basic-auth password);
    without it the endpoint is served on loopback addresses only.

    \b
    Example:
        serbero metrics -c config.toml --port 9464
        curl -s http://127.0.0.1:9464/metrics | grep serbero_disputes
    """
    from serbero.ops.prometheus import SerberoCollector, metrics_app

    settings = load_settings(config_path)
    logs.setup(settings.log_level, settings.log_format)
    token = settings.metrics_token
    require_token_off_loopback(host, token, env_name="SERBERO_METRICS_TOKEN",
                               what="the metrics endpoint")
    sock = bind(host, port)
    open_db(settings, create=False, upgrade=False)
    names, alive_within_s = _queues(settings)
    collector = SerberoCollector(settings, names, alive_within_s=alive_within_s)
    endpoint = Endpoint(guarded(metrics_app(collector), token, realm="serbero metrics"), sock,
                        name="serbero-metrics")
    _serve(endpoint, "metrics", f"http://{host}:{endpoint.port}/metrics")
