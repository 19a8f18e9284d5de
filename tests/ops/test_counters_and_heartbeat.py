"""Counters that add up across processes, and the listener heartbeat's own rules."""

import logging
import os
import subprocess
import sys
import textwrap
import time

from serbero import liveness
from serbero.dedup import LocalSeen
from serbero.listener import Listener, heartbeat
from serbero.listener.subscriptions import INGEST_DISPUTE_EVENT
from serbero.ops import counters
from serbero.ops.heartbeat import processes
from tests.conftest import NAMESPACE, REDIS_URL
from tests.ops.conftest import ROOT

#: Two "workers" each reject this many events.
PER_PROCESS = 40

REJECTING_WORKER = textwrap.dedent(f"""
    from nostr_sdk import Keys
    from serbero import config
    from serbero.disputes import ingest

    keys = Keys.generate()
    settings = config.from_mapping({{
        "serbero": {{"private_key": keys.secret_key().to_hex()}},
        "mostro": {{"pubkey": Keys.generate().public_key().to_hex()}},
        "relays": [{{"url": "ws://127.0.0.1:9"}}]}})
    for _ in range({PER_PROCESS}):
        assert ingest.ingest("[not an event", settings=settings, signer=keys,
                             now=0).outcome == "rejected:malformed_json"
""")


def test_rejections_in_many_processes_add_up(redis_client, clean_ops_keys):
    # Given two worker processes that each reject events
    env = {**os.environ, "SERBERO_REDIS_URL": REDIS_URL, "SERBERO_REDIS_NAMESPACE": NAMESPACE,
           "SERBERO_LOG": "error"}
    procs = [subprocess.Popen([sys.executable, "-c", REJECTING_WORKER], cwd=ROOT, env=env)
             for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    # Then the deployment's counter holds both processes' rejections
    assert counters.rejections(redis_client, NAMESPACE) == {"malformed_json": 2 * PER_PROCESS}


def test_a_heartbeat_is_written_at_most_every_few_seconds(nostr_loop, make_settings, db):
    listener = Listener(make_settings(),
                        targets={INGEST_DISPUTE_EVENT: lambda raw: None}, seen=LocalSeen())
    assert nostr_loop.run(heartbeat.beat(listener), 5) is True
    assert nostr_loop.run(heartbeat.beat(listener), 5) is False  # too soon
    [beat] = processes(time.time()).listeners
    assert beat.command == "listen" and beat.details["relays_configured"] == 1
    assert beat.details["last_event_at"] is None and beat.details["redis"] == "up"


def test_a_database_outage_never_stops_the_listener(nostr_loop, make_settings, db, caplog,
                                                    monkeypatch):
    monkeypatch.setattr(liveness, "BEAT_EVERY_S", 0)  # every call beats
    # Given a database that refuses the heartbeat's writes
    db.execute_sql("DROP TABLE process_heartbeats")
    listener = Listener(make_settings(),
                        targets={INGEST_DISPUTE_EVENT: lambda raw: None}, seen=LocalSeen())
    # Then beating fails quietly, said once however often it is tried
    with caplog.at_level(logging.WARNING, logger="serbero"):
        for _ in range(3):
            assert nostr_loop.run(heartbeat.beat(listener), 10) is False
    assert caplog.messages.count("database_unreachable") == 1
    assert listener.handle("not json") == "rejected:malformed_json"


def test_with_the_embedded_broker_the_heartbeat_is_written_too(nostr_loop, make_settings, db,
                                                               redis_client, clean_ops_keys):
    # issue 10, operator item 2: `serbero run` without Redis is visible to status and metrics
    listener = Listener(make_settings().replace(redis_url=None), command="run",
                        targets={INGEST_DISPUTE_EVENT: lambda raw: None}, seen=LocalSeen())
    assert nostr_loop.run(heartbeat.beat(listener), 5) is True
    [beat] = processes(time.time()).listeners
    assert beat.command == "run" and beat.details["redis"] == "embedded"
    assert list(redis_client.scan_iter(f"{NAMESPACE}:ops:*")) == []
