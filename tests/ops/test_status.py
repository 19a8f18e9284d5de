"""`serbero status` against real Redis, a real listener on a real relay, and seeded queues, dead
letters and disputes; with the embedded broker; before and after the escalation tables; and on
PostgreSQL."""

import asyncio
import json
import re
import time

import pytest
from click.testing import CliRunner
from nostr_sdk import Keys

from serbero import clock, liveness
from serbero.cli import cli
from serbero.db.connection import database
from serbero.db.models import audit
from serbero.dedup import LocalSeen
from serbero.disputes import ingest
from serbero.listener import Listener, serve
from serbero.listener.subscriptions import INGEST_DISPUTE_EVENT
from serbero.ops.heartbeat import processes
from serbero.simulators.mostro_node import MostroNode
from serbero_workers import actors
from tests.ops.conftest import dead_letter, expected_queues, seed_dispute, write_config

HOUR = 3600


def seed_disputes(now: int) -> None:
    seed_dispute("d-new-oldest", "new", detected_at=now - 2 * HOUR)
    seed_dispute("d-notified-1", "notified", detected_at=now - HOUR)
    seed_dispute("d-notified-2", "notified", detected_at=now - 600)
    seed_dispute("d-taken", "taken", detected_at=now - 3 * HOUR)  # older, but attended
    seed_dispute("d-resolved", "resolved", detected_at=now - 4 * HOUR)


def queue_row(output: str, queue: str) -> list[int]:
    rows = [line.split() for line in output.splitlines()
            if re.match(rf"^(queues)?\s+{re.escape(queue)}\s+\d", line)]
    assert len(rows) == 1, f"no single row for queue {queue!r} in:\n{output}"
    return [int(n) for n in rows[0][-4:]]


class Serving:
    """The real listener loop (`serve`) on the test's event loop until `stop()`."""

    def __init__(self, nostr_loop, listener):
        self.nostr_loop = nostr_loop
        self.stop_event = asyncio.Event()
        self.future = asyncio.run_coroutine_threadsafe(serve(listener, self.stop_event),
                                                       nostr_loop.loop)

    def stop(self):
        self.nostr_loop.loop.call_soon_threadsafe(self.stop_event.set)
        self.future.result(15)


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return found


def test_status_shows_the_deployment_at_a_glance(nostr_loop, relay, mostro, make_settings, db,
                                                 broker, redis_client, clean_ops_keys, tmp_path,
                                                 monkeypatch):
    monkeypatch.setattr(liveness, "BEAT_EVERY_S", 0.1)  # beat often, so the test is quick
    now = clock.now()
    seed_disputes(now)
    # Given a listener running on a live relay and one that is down, which has seen an event
    settings = make_settings(relays=[relay, "ws://127.0.0.1:9"], mostro=mostro.pubkey)
    handed: list[str] = []
    listener = Listener(settings, targets={INGEST_DISPUTE_EVENT: handed.append}, seen=LocalSeen())
    serving = Serving(nostr_loop, listener)
    try:
        nostr_loop.run(mostro.open_dispute(), 10)
        wait_until(lambda: handed)
        # and events refused by the listener and by a worker
        assert listener.handle("not json") == "rejected:malformed_json"
        stranger = MostroNode().revision("b1c2d3e4-0000-4000-8000-000000000001", "initiated")
        result = ingest.ingest(stranger.as_json(), settings=settings,
                               signer=Keys.parse(settings.private_key.reveal()), now=now)
        assert result.outcome == "rejected:wrong_author"
        # and jobs waiting, delayed and dead in the queues
        actors.ingest_dispute_event.send("{}")
        actors.ingest_dispute_event.send("{}")
        actors.run_tick.send_with_options(args=("renotify", 1), delay=600_000)
        dead_letter(broker, actors.publish_outbox_row.message(7))
        wait_until(lambda: processes(time.time()).last_event_seen_at is not None)
        # When the operator asks for the status
        config = write_config(tmp_path / "status.toml", settings)
        result = CliRunner().invoke(cli, ["status", "-c", str(config)])
    finally:
        serving.stop()
    # Then one line per concern tells the story
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"^listener\s+up: `serbero listen` pid \d+ on \S+, heartbeat \d+s ago, "
                     r"running for \d+s; Redis up$", out, re.M), out
    assert re.search(r"^relays\s+1/2 connected$", out, re.M), out
    assert re.search(rf"^\s+{re.escape(relay)}\s+connected for \d+s$", out, re.M), out
    assert re.search(r"^\s+ws://127.0.0.1:9\s+NOT CONNECTED for \d+s: Connection refused",
                     out, re.M), out
    assert re.search(r"^last event\s+seen by a listener \d+s ago, applied: never$", out, re.M)
    # the listener enqueued jobs, but it is no worker (issue 10, operator item 8)
    assert re.search(r"^workers\s+NONE consuming: no worker heartbeat in the last 20s", out,
                     re.M), out
    assert re.search(r"^queues\s+QUEUE\s+READY\s+IN FLIGHT\s+DELAYED\s+DEAD$", out, re.M)
    assert queue_row(out, "events") == [2, 0, 0, 0]
    assert queue_row(out, "ticks") == [0, 0, 1, 0]
    assert queue_row(out, "notify") == [0, 0, 0, 1]
    for idle in expected_queues() - {"events", "ticks", "notify"}:
        assert queue_row(out, idle) == [0, 0, 0, 0]
    assert re.search(r"^disputes\s+new 1 · notified 2 · taken 1 · waiting 0 · escalated 0 · "
                     r"resolved 1$", out, re.M)
    assert re.search(r"^unattended\s+3 waiting for a solver; oldest d-new-oldest \(new\), "
                     r"detected 2h00m ago at ", out, re.M)
    assert re.search(r"^rejected\s+malformed_json 1 · wrong_author 1$", out, re.M)
    assert re.search(r"^handoffs\s+", out, re.M)
    # A listener that stopped says so at once
    out = CliRunner().invoke(cli, ["status", "-c", str(config)]).stdout
    assert re.search(r"^listener\s+DOWN: no heartbeat in the last 20s; last `serbero listen` "
                     r"pid \d+ on \S+, \d+s ago, stopped cleanly$", out, re.M), out
    assert re.search(r"^relays\s+1/2 connected when that listener was last seen$", out, re.M)


def test_status_with_the_embedded_broker_says_what_it_cannot_see(db, config_file):
    seed_disputes(clock.now())
    result = CliRunner(env={"SERBERO_REDIS_URL": ""}).invoke(cli, ["status", "-c",
                                                                   str(config_file)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"^listener\s+DOWN: no listener has written a heartbeat to this database",
                     out, re.M), out
    assert re.search(r"^queues\s+unavailable: the embedded broker's queues live in memory",
                     out, re.M)
    assert re.search(r"^disputes\s+new 1 · notified 2 ", out, re.M)
    assert "d-new-oldest" in out


def test_status_as_json_carries_the_same_figures(db, config_file, broker, clean_ops_keys):
    seed_disputes(clock.now())
    actors.publish_outbox_row.send(1)
    result = CliRunner().invoke(cli, ["status", "--json", "-c", str(config_file)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["disputes"] == {"new": 1, "notified": 2, "taken": 1, "waiting": 0,
                                "escalated": 0, "resolved": 1}
    assert data["unattended"]["dispute_id"] == "d-new-oldest"
    assert data["unattended"]["count"] == 3
    notify = [q for q in data["redis"]["queues"] if q["name"] == "notify"]
    assert notify == [{"name": "notify", "ready": 1, "in_flight": 0, "delayed": 0, "dead": 0}]
    assert data["processes"]["listeners"] == [] and data["workers_alive"] == 0


def test_status_when_redis_does_not_answer_still_shows_the_database(db, config_file):
    seed_disputes(clock.now())
    result = CliRunner(env={"SERBERO_REDIS_URL": "redis://127.0.0.1:9/0"}).invoke(
        cli, ["status", "-c", str(config_file)])
    assert result.exit_code == 0, result.output
    assert re.search(r"^redis\s+UNREACHABLE at redis://127.0.0.1:9/0: ", result.stdout, re.M)
    assert re.search(r"^disputes\s+new 1 ", result.stdout, re.M)


def test_status_without_a_database_is_a_clear_error_and_creates_none(tmp_path, make_settings):
    config = write_config(tmp_path / "c.toml", make_settings())
    result = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"database error: sqlite:///{tmp_path / 'serbero.db'}: "
                                    f"no database at {tmp_path / 'serbero.db'}")
    assert not (tmp_path / "serbero.db").exists()


def test_pending_handoffs_before_and_after_the_escalation_tables(db, config_file):
    from serbero.db.migrations import DIALECT, v0003_escalation
    from serbero.escalation.models import EscalationDispatch, EscalationHandoff

    now = clock.now()
    seed_dispute("d-esc", "notified", detected_at=now - HOUR)
    # Before the escalation migration: status still works and says what to do
    for table in ("escalation_dms", "escalation_handoffs", "escalation_dispatches"):
        database.execute_sql(f"DROP TABLE {table}")
    before = CliRunner(env={"SERBERO_REDIS_URL": ""}).invoke(cli, ["status", "-c",
                                                                   str(config_file)])
    assert before.exit_code == 0, before.output
    assert re.search(r"^handoffs\s+escalation tables missing; run `serbero migrate`$",
                     before.stdout, re.M)
    # After it: handoffs in every state; waiting = pending, sending, send_failed, unroutable
    for statement in v0003_escalation.STATEMENTS:
        if "idx_mediation_events_kind" not in statement:  # that index survived the drop
            database.execute_sql(statement.format(**DIALECT["sqlite"]))
    ids = []
    for status, age in [("dispatched", 1500), ("send_failed", 600), ("unroutable", 300),
                        ("superseded", 1800), ("parse_failed", 2000)]:
        ids.append(audit("handoff_prepared", dispute_id="d-esc", at=now - age).id)
        EscalationHandoff.create(handoff_event_id=ids[-1], dispute_id="d-esc", status=status,
                                 created_at=now - age, updated_at=now)
    EscalationDispatch.create(dispatch_id="x1", dispute_id="d-esc", handoff_event_id=ids[0],
                              target_solver="a" * 64, dispatched_at=now, created_at=now)
    after = CliRunner(env={"SERBERO_REDIS_URL": ""}).invoke(cli, ["status", "-c",
                                                                  str(config_file)])
    assert after.exit_code == 0, after.output
    assert re.search(r"^handoffs\s+2 awaiting dispatch \(oldest 10m\d\ds ago\); dispatches: "
                     r"dispatched 1; handoffs: dispatched 1, parse_failed 1, send_failed 1, "
                     r"superseded 1, unroutable 1$", after.stdout, re.M), after.stdout


@pytest.mark.postgres
def test_status_reads_the_same_on_postgresql(pg_db, make_settings, tmp_path):
    now = clock.now()
    seed_disputes(now)
    audit("escalation_recommended", dispute_id="d-taken", at=now, trigger="manual")
    config = write_config(tmp_path / "pg.toml", make_settings())
    result = CliRunner(env={"SERBERO_REDIS_URL": "", "SERBERO_DB_URL": pg_db.pg_url}).invoke(
        cli, ["status", "--json", "-c", str(config)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["disputes"]["notified"] == 2
    assert data["unattended"]["dispute_id"] == "d-new-oldest"
    assert data["escalations"] == {"manual": 1}
    if data["handoffs"] is not None:  # the escalation migration is there
        assert data["handoffs"]["awaiting_dispatch"] == 0
