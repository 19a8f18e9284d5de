"""`serbero metrics` over HTTP (a real server, real Redis, a real database): values that match
seeded data, the latency histogram, the token, and a port already in use."""

import socket

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from serbero import clock, liveness
from serbero.cli import cli
from serbero.config import Secret
from serbero.db.models import audit
from serbero.dedup import LocalSeen
from serbero.listener import Listener, heartbeat
from serbero.listener.subscriptions import INGEST_DISPUTE_EVENT
from serbero.ops.http import guarded
from serbero.ops.prometheus import SerberoCollector, metrics_app
from serbero_workers import actors
from tests.ops.conftest import TOKEN, dead_letter, http, seed_dispute, seed_notice, write_config

#: Detection → publication of each seeded initial DM, in ms.
LATENCIES_MS = (20, 40, 90, 300, 2000)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found, name, **labels):
    return found[(name, frozenset(labels.items()))]


@pytest.fixture
def seeded(db, broker, mostro, make_settings, clean_ops_keys, nostr_loop):
    """Disputes, notices, escalations, queue jobs, rejections and a listener heartbeat."""
    now = clock.now()
    seed_dispute("d-waiting-long", "new", detected_at=now - 7200)
    for i, latency in enumerate(LATENCIES_MS):
        dispute = seed_dispute(f"d-{i}", "notified", detected_at=now - 60)
        seed_notice(dispute, latency_ms=latency)
    taken = seed_dispute("d-taken", "taken", detected_at=now - 30)
    seed_notice(taken, latency_ms=10, notif_type="assignment")  # not an initial notice
    seed_notice(taken, latency_ms=None, status="pending", solver="b" * 64)
    seed_notice(taken, latency_ms=None, status="failed", solver="c" * 64)
    for trigger in ("manual", "manual", "low_confidence"):
        audit("escalation_recommended", dispute_id="d-taken", at=now, trigger=trigger)
    actors.ingest_dispute_event.send("{}")
    actors.ingest_dispute_event.send("{}")
    dead_letter(broker, actors.publish_outbox_row.message(9))
    settings = make_settings(mostro=mostro.pubkey)
    listener = Listener(settings,
                        targets={INGEST_DISPUTE_EVENT: lambda raw: None}, seen=LocalSeen())
    assert listener.handle("{") == "rejected:malformed_json"
    assert listener.handle(mostro.revision("c1d2e3f4-0000-4000-8000-000000000002",
                                           "initiated").as_json()) == "enqueued"
    assert nostr_loop.run(heartbeat.beat(listener), 5)
    liveness.Beater(liveness.WORKER, "worker").beat({"threads": 8, "busy": 2})
    return settings, listener


def test_the_endpoint_exposes_the_seeded_figures(seeded, tmp_path, server_process):
    settings, listener = seeded
    server = server_process(["metrics", "-c", str(write_config(tmp_path / "m.toml", settings)),
                             "--port", "0"], {})
    scrape = http(server.url)
    assert scrape.status == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    found = samples(scrape.body)
    assert value(found, "serbero_database_up") == 1 and value(found, "serbero_redis_up") == 1
    assert {s: value(found, "serbero_disputes", state=s) for s in
            ("new", "notified", "taken", "waiting", "escalated", "resolved")} == {
        "new": 1, "notified": 5, "taken": 1, "waiting": 0, "escalated": 0, "resolved": 0}
    assert value(found, "serbero_unattended_disputes") == 6
    assert 7200 <= value(found, "serbero_oldest_unattended_dispute_age_seconds") < 7260
    assert value(found, "serbero_queue_messages", queue="events", state="ready") == 2
    assert value(found, "serbero_queue_messages", queue="notify", state="dead") == 1
    assert value(found, "serbero_queue_messages", queue="ticks", state="ready") == 0
    assert value(found, "serbero_up") == 1
    assert value(found, "serbero_workers_alive") == 1  # the worker, not the listener
    assert value(found, "serbero_worker_threads", state="busy") == 2
    assert value(found, "serbero_worker_threads", state="idle") == 6
    assert value(found, "serbero_listeners_up") == 1
    assert value(found, "serbero_relays_configured") == 1
    assert value(found, "serbero_last_dispute_event_seen_timestamp_seconds") == \
        pytest.approx(listener.last_event_at, abs=0.01)
    assert value(found, "serbero_events_rejected_total", reason="malformed_json") == 1
    assert value(found, "serbero_notifications_total", notif_type="initial", status="sent") == 5
    assert value(found, "serbero_notifications_total", notif_type="initial", status="failed") == 1
    assert value(found, "serbero_notifications_total", notif_type="assignment",
                 status="sent") == 1
    assert value(found, "serbero_notifications_pending", notif_type="initial") == 1
    assert value(found, "serbero_escalations_total", trigger="manual") == 2
    assert value(found, "serbero_escalations_total", trigger="low_confidence") == 1
    # the histogram counts the five published initial DMs only
    bucket = "serbero_detection_to_dm_seconds_bucket"
    assert [value(found, bucket, le=le) for le in ("0.025", "0.05", "0.1", "0.25", "0.5",
                                                   "1.0", "2.5", "+Inf")] == [1, 2, 3, 3, 4, 4,
                                                                             5, 5]
    assert value(found, "serbero_detection_to_dm_seconds_count") == 5
    assert value(found, "serbero_detection_to_dm_seconds_sum") == pytest.approx(2.45)
    base = server.url.removesuffix("/metrics")
    assert server.url == base + "/metrics"  # the command prints where to scrape
    assert http(base + "/").status == 200
    assert http(base + "/other").status == 404


def test_counts_follow_the_database_between_scrapes(seeded, serve_app):
    settings, _ = seeded
    url = serve_app(metrics_app(SerberoCollector(settings, ["notify"], alive_within_s=30)))
    before = samples(http(url).body)
    seed_notice(seed_dispute("d-late", "notified", detected_at=clock.now()), latency_ms=70)
    after = samples(http(url).body)
    assert value(after, "serbero_detection_to_dm_seconds_count") == \
        value(before, "serbero_detection_to_dm_seconds_count") + 1
    assert value(after, "serbero_detection_to_dm_seconds_bucket", le="0.1") == \
        value(before, "serbero_detection_to_dm_seconds_bucket", le="0.1") + 1


def test_with_a_token_scrapes_need_it(db, make_settings, serve_app):
    app = metrics_app(SerberoCollector(make_settings(), [], alive_within_s=30))
    url = serve_app(guarded(app, Secret(TOKEN), realm="serbero metrics"))
    assert http(url + "/metrics").status == 401
    assert http(url + "/metrics", token="x" * len(TOKEN)).status == 401
    scrape = http(url + "/metrics", token=TOKEN)
    assert scrape.status == 200 and "serbero_disputes" in scrape.body


def test_a_port_in_use_is_a_clear_error_and_changes_nothing(tmp_path, make_settings):
    config = write_config(tmp_path / "m.toml", make_settings())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["metrics", "-c", str(config), "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use by another "
        "process; stop it or choose another --port.")
    assert not (tmp_path / "serbero.db").exists()  # bound first: nothing was opened


def test_serving_metrics_off_loopback_needs_a_token(tmp_path, make_settings):
    config = write_config(tmp_path / "m.toml", make_settings())
    result = CliRunner(env={"SERBERO_METRICS_TOKEN": ""}).invoke(
        cli, ["metrics", "-c", str(config), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "SERBERO_METRICS_TOKEN: not set" in result.stderr
