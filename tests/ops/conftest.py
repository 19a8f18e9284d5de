"""Fixtures for the operator surface: a configuration file, clean `ops:` keys in Redis, an
endpoint served on a thread, an HTTP client that does not follow redirects, and helpers that
put messages in dramatiq's queues the way dramatiq itself does."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import NAMESPACE, REDIS_URL

ROOT = Path(__file__).parents[2]
TOKEN = "s3rb3ro-dashboard-token-for-tests"


@pytest.fixture
def clean_ops_keys(redis_client):
    """No heartbeat or counter of an earlier test in this session's namespace."""
    def wipe():
        keys = list(redis_client.scan_iter(f"{NAMESPACE}:ops:*"))
        if keys:
            redis_client.delete(*keys)
    wipe()
    yield
    wipe()


def write_config(path: Path, settings) -> Path:
    """A config file for `settings` (its database given by db_path, as an operator would), with
    its solvers, or one when it has none (a file without solvers warns on every command)."""
    from nostr_sdk import Keys

    db_path = settings.db_url.split(":///", 1)[1]
    relays = "".join(f'[[relays]]\nurl = "{u}"\n' for u in settings.relays)
    pubkeys = [s.pubkey for s in settings.solvers] or [Keys.generate().public_key().to_hex()]
    solvers = "".join(f'[[solvers]]\npubkey = "{pk}"\n' for pk in pubkeys)
    path.write_text(f'[serbero]\nprivate_key = "{settings.private_key.reveal()}"\n'
                    f'db_path = "{db_path}"\n[mostro]\npubkey = "{settings.mostro_pubkey}"\n'
                    f"{relays}{solvers}")
    path.chmod(0o600)
    return path


@pytest.fixture
def config_file(tmp_path, make_settings):
    """A configuration file whose database is tmp_path/serbero.db (the `db` fixture's)."""
    return write_config(tmp_path / "config.toml", make_settings())


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(url: str, *, token: str | None = None, headers: dict[str, str] | None = None,
         data: bytes | None = None) -> Response:
    """One request; any status is returned, never raised."""
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        reply = _opener.open(request, timeout=10)
    except urllib.error.HTTPError as err:
        reply = err
    with reply:
        headers: dict[str, str] = {}
        for name, value in reply.headers.items():  # repeated headers joined, as RFC 9110 allows
            headers[name.lower()] = f"{headers[name.lower()]}, {value}" \
                if name.lower() in headers else value
        return Response(reply.status, headers,
                        reply.headers.get_all("Set-Cookie") or [],
                        reply.read().decode("utf-8", "replace"))


@pytest.fixture
def serve_app():
    """`serve_app(app)` → base URL of the app served by a real Endpoint on a free port."""
    from serbero.ops.http import Endpoint, bind

    running = []

    def serve(app):
        endpoint = Endpoint(app, bind("127.0.0.1", 0), name="test")
        thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
        thread.start()
        running.append((endpoint, thread))
        return f"http://127.0.0.1:{endpoint.port}"
    yield serve
    for endpoint, thread in running:
        endpoint.stop()
        thread.join(5)


class ServerProcess:
    """A `serbero …` server command run as its own process; `url` once it is listening."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "serbero", *args], cwd=ROOT,
                                     env={**os.environ, **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if " on http://" not in line:
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split(" on ", 1)[1].split()[0].rstrip("/")

    def stop(self) -> str:
        self.proc.terminate()
        _out, err = self.proc.communicate(timeout=10)
        return err


@pytest.fixture
def server_process():
    started = []

    def start(args: list[str], env: dict[str, str]) -> ServerProcess:
        server = ServerProcess(args, {"SERBERO_REDIS_URL": REDIS_URL or "",
                                      "SERBERO_REDIS_NAMESPACE": NAMESPACE,
                                      "SERBERO_LOG": "warning", **env})
        started.append(server)
        return server
    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()


def dead_letter(broker, message) -> str:
    """Enqueue `message` and dead-letter it the way dramatiq does when a job's retries run out
    (a consumer fetches it, then nacks it); return its Redis message id."""
    enqueued = broker.enqueue(message)
    consumer = broker.consume(message.queue_name, prefetch=1, timeout=50)
    try:
        deadline = time.monotonic() + 5
        while (fetched := next(consumer)) is None:
            assert time.monotonic() < deadline, "message never fetched"
        consumer.nack(fetched)
    finally:
        consumer.close()
    return enqueued.options["redis_message_id"]


def expected_queues() -> set[str]:
    """The queues of this deployment's actor modules, listed independently of the code."""
    queues = {"events", "notify", "webhooks", "ticks"}
    if (ROOT / "serbero_workers" / "escalation.py").exists():
        queues.add("escalation")
    if (ROOT / "serbero_workers" / "mediation.py").exists():
        queues.add("mediation")
    return queues


def seed_dispute(dispute_id: str, state: str, *, detected_at: int,
                 detected_at_ms: int | None = None):
    """A dispute row as ingest writes it, in `state`."""
    from serbero.db.models import Dispute

    return Dispute.create(
        dispute_id=dispute_id, event_id=f"ev-{dispute_id}", mostro_pubkey="m" * 64,
        initiator_role="buyer", event_timestamp=detected_at, detected_at=detected_at,
        detected_at_ms=detected_at_ms if detected_at_ms is not None else detected_at * 1000,
        lifecycle_state=state, status_event_id=f"ev-{dispute_id}", status_event_at=detected_at,
        status_stage=0)


def seed_notice(dispute, *, notif_type: str = "initial", latency_ms: int | None = None,
                status: str = "sent", solver: str = "a" * 64):
    """A solver notice with its outbox row, published `latency_ms` after detection (None:
    not published), as notify.fan_out and outbox.publish leave them."""
    from serbero.db.models import Notification, Outbox

    sent_ms = None if latency_ms is None else dispute.detected_at_ms + latency_ms
    row = Outbox.create(purpose="solver_dm", notice_type=notif_type,
                        dispute=dispute.dispute_id, recipient=solver,
                        message_id=f"dm-{dispute.dispute_id}-{notif_type}-{solver[:4]}",
                        body="{}", status="sent" if sent_ms else "pending",
                        created_at=dispute.detected_at, created_at_ms=dispute.detected_at_ms,
                        next_attempt_at=dispute.detected_at,
                        sent_at=None if sent_ms is None else sent_ms // 1000, sent_at_ms=sent_ms)
    return Notification.create(dispute=dispute.dispute_id, solver_pubkey=solver, status=status,
                               notif_type=notif_type, outbox=row.id,
                               created_at=dispute.detected_at,
                               sent_at=None if sent_ms is None else sent_ms // 1000)
