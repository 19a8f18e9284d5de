"""The listener → Redis → worker pipeline: several relays, restarts, relays down, the ticker."""

import asyncio
import socket
import time
import uuid

import pytest

from serbero import config
from serbero.cursor import ResumeCursor
from serbero.db.models import Dispute, ListenerCursor, Notification
from serbero.dedup import RedisSeen
from serbero.listener import Listener, serve
from serbero.listener.subscriptions import INGEST_DISPUTE_EVENT
from serbero.simulators.mostro_node import dispute_event
from serbero.simulators.relay import start_relay
from serbero.ticker import RedisClaims, Ticker
from serbero_workers import actors
from tests.conftest import NAMESPACE


@pytest.fixture
def second_relay(nostr_loop):
    local, url = nostr_loop.run(start_relay(), 10)
    yield url
    local.shutdown()


class Serving:
    """A listener served on the test's event loop until `stop()`."""

    def __init__(self, nostr_loop, listener, ticker=None):
        self.nostr_loop, self.listener = nostr_loop, listener
        self.stop_event = asyncio.Event()
        self.future = asyncio.run_coroutine_threadsafe(
            serve(listener, self.stop_event, ticker=ticker), nostr_loop.loop)
        deadline = time.monotonic() + 15
        while listener._consumer is None:
            assert not self.future.done(), self.future.exception()
            assert time.monotonic() < deadline, "listener did not start"
            time.sleep(0.02)

    def stop(self):
        self.nostr_loop.loop.call_soon_threadsafe(self.stop_event.set)
        self.future.result(15)


def make_listener(settings, redis_client):
    return Listener(settings, targets={INGEST_DISPUTE_EVENT: actors.ingest_dispute_event.send},
                    seen=RedisSeen(redis_client, NAMESPACE))


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_one_event_on_two_relays_is_applied_once(nostr_loop, relay, second_relay, mostro,
                                                 runtime, broker, worker, redis_client,
                                                 solver_ana, solver_bo):
    settings = runtime.settings.replace(relays=(relay, second_relay))
    node = nostr_loop.run(type(mostro)(mostro.keys).connect([relay, second_relay]), 10)
    serving = Serving(nostr_loop, make_listener(settings, redis_client))
    try:
        dispute_id = nostr_loop.run(node.open_dispute(), 10)
        nostr_loop.run(solver_ana.wait_for(1, dispute_id), 15)
        nostr_loop.run(solver_bo.wait_for(1, dispute_id), 15)
        nostr_loop.run(asyncio.sleep(0.5), 5)
    finally:
        serving.stop()
        nostr_loop.run(node.shutdown(), 10)
    assert len(solver_ana.texts(dispute_id)) == 1 and len(solver_bo.texts(dispute_id)) == 1
    assert Notification.select().count() == 2


def test_a_restarted_listener_resumes_from_its_cursor(nostr_loop, mostro, runtime, broker,
                                                      worker, redis_client, solver_ana,
                                                      monkeypatch):
    from serbero.listener import catchup

    # the second read after the start-up one holds the cursor where that began until it is done
    monkeypatch.setattr(catchup, "SETTLE_AFTER_S", 0.2)
    first = Serving(nostr_loop, make_listener(runtime.settings, redis_client))
    before = nostr_loop.run(mostro.open_dispute(), 10)
    nostr_loop.run(solver_ana.wait_for(1, before), 15)
    wait_until(lambda: not first.listener.cursor.holds and not first.listener.catch_up.running())
    first.stop()
    saved = ListenerCursor.get_by_id("disputes").since
    assert saved >= Dispute.get_by_id(before).event_timestamp
    # While the listener is down the node opens another dispute and takes the first one
    during = nostr_loop.run(mostro.open_dispute(), 10)
    nostr_loop.run(mostro.take(before, solver_ana.pubkey), 10)
    second = Serving(nostr_loop, make_listener(runtime.settings, redis_client))
    try:
        nostr_loop.run(solver_ana.wait_for(1, during), 15)
        nostr_loop.run(solver_ana.wait_for(1, "has been taken"), 15)
    finally:
        second.stop()
    assert Dispute.get_by_id(before).lifecycle_state == "taken"
    assert len(solver_ana.texts(before)) == 2  # initial + assignment, no repeat of the initial


def test_a_future_dated_event_does_not_carry_the_cursor_past_the_clock(
        nostr_loop, mostro, runtime, broker, worker, redis_client, solver_ana):
    # issue 10, defect 1: an event dated up to an hour ahead is accepted; the cursor saved it
    # uncapped, so after a restart the subscription started past disputes still due.
    first = Serving(nostr_loop, make_listener(runtime.settings, redis_client))
    ahead = str(uuid.uuid4())
    nostr_loop.run(mostro.send(dispute_event(mostro.keys, ahead, "initiated",
                                             created_at=int(time.time()) + 1800)), 10)
    nostr_loop.run(solver_ana.wait_for(1, ahead), 15)
    first.stop()
    assert ListenerCursor.get_by_id("disputes").since <= time.time()
    # While the listener is down the node opens a dispute dated now
    during = nostr_loop.run(mostro.open_dispute(), 10)
    second = Serving(nostr_loop, make_listener(runtime.settings, redis_client))
    try:
        nostr_loop.run(solver_ana.wait_for(1, during), 15)
    finally:
        second.stop()
    assert ListenerCursor.get_by_id("disputes").since <= time.time()


def test_a_cursor_saved_ahead_of_the_clock_resumes_from_now(db):
    # issue 10, defect 1: a database written before the fix may hold a future cursor
    now = int(time.time())
    ListenerCursor.create(name="disputes", since=now + 1800, updated_at=now)
    cursor = ResumeCursor("disputes", overlap_s=60)
    cursor.load()
    assert cursor.since(now) == now - 60
    assert cursor.flush(now) == now and ListenerCursor.get_by_id("disputes").since == now


def test_the_listener_waits_out_relays_that_are_down(nostr_loop, mostro, make_runtime, broker,
                                                     worker, redis_client, solver_ana):
    # One relay never answers; the other starts only after the listener did.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        late_port = s.getsockname()[1]
    late_url = f"ws://127.0.0.1:{late_port}"
    rt = make_runtime(solvers=[solver_ana])
    settings = rt.settings.replace(relays=("ws://127.0.0.1:9", late_url))
    serving = Serving(nostr_loop, make_listener(settings, redis_client))
    late, _ = nostr_loop.run(start_relay(port=late_port), 10)
    try:
        node = nostr_loop.run(type(mostro)(mostro.keys).connect([late_url]), 10)
        dispute_id = nostr_loop.run(node.open_dispute(), 10)
        wait_until(lambda: Dispute.get_or_none(Dispute.dispute_id == dispute_id) is not None,
                   timeout=20)
        nostr_loop.run(node.shutdown(), 10)
    finally:
        serving.stop()
        late.shutdown()


def test_the_listener_drops_hostile_events_without_enqueueing(nostr_loop, runtime, broker,
                                                              redis_client, mostro):
    listener = make_listener(runtime.settings, redis_client)
    listener.cursor = ResumeCursor("disputes", overlap_s=60)
    bad = mostro.revision("not-a-uuid", "initiated").as_json()
    assert listener.handle(bad) == "rejected:bad_dispute_id"
    assert listener.handle("{}") == "rejected:malformed_json"
    good = mostro.revision("6f1c1b1e-1d1b-4c1a-9a1b-1c1d1e1f1a1b", "initiated").as_json()
    assert listener.handle(good) == "enqueued"
    assert listener.handle(good) == "duplicate"
    assert broker.client.llen(f"{NAMESPACE}:events") == 1


def test_a_failed_enqueue_holds_the_cursor_back_and_is_retried(db, make_settings, redis_client,
                                                               mostro):
    calls = []

    def flaky(raw):
        calls.append(raw)
        if len(calls) == 1:
            raise ValueError("the broker refused this message")

    settings = make_settings(mostro=mostro.pubkey)
    listener = Listener(settings, targets={INGEST_DISPUTE_EVENT: flaky},
                        seen=RedisSeen(redis_client, NAMESPACE))
    listener.cursor.load()
    event = mostro.revision("7a1c1b1e-1d1b-4c1a-9a1b-1c1d1e1f1a1b", "initiated")
    assert listener.handle(event.as_json()) == "enqueue_failed"
    listener.cursor.flush(int(time.time()))
    assert ListenerCursor.get_by_id("disputes").since <= event.created_at().as_secs()
    assert listener.handle(event.as_json()) == "enqueued"  # e.g. from the next reconcile


def test_two_tickers_fire_each_period_once(redis_client):
    fired = []
    tickers = [Ticker({"renotify": 2, "outbox": 1},
                      claim=RedisClaims(redis_client, f"{NAMESPACE}-t", f"listener-{i}"),
                      fire=lambda name, bucket: fired.append((name, bucket)))
               for i in range(2)]
    start = 1_000_000.0
    for step in range(10):  # five seconds in half-second steps
        for ticker in tickers:
            ticker.tick_once(start + step * 0.5)
    assert sorted(fired) == sorted({*fired})
    assert [b for n, b in fired if n == "outbox"] == list(range(1_000_000, 1_000_005))
    assert [b for n, b in fired if n == "renotify"] == [500_000, 500_001, 500_002]


def test_listen_and_worker_refuse_to_start_without_redis(tmp_path):
    from click.testing import CliRunner
    from nostr_sdk import Keys

    from serbero.cli import cli

    path = tmp_path / "config.toml"
    path.write_text(f'[serbero]\nprivate_key = "{Keys.generate().secret_key().to_hex()}"\n'
                    f'[mostro]\npubkey = "{Keys.generate().public_key().to_hex()}"\n'
                    '[[relays]]\nurl = "ws://127.0.0.1:9"\n')
    path.chmod(0o600)
    for command in ("listen", "worker"):
        result = CliRunner(env={"SERBERO_REDIS_URL": ""}).invoke(cli, [command, "-c", str(path)])
        assert result.exit_code == 2
        assert "SERBERO_REDIS_URL" in result.stderr
    assert config.load_service({"SERBERO_REDIS_URL": " "}).redis_url is None
