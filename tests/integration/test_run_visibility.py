"""What an operator sees of `serbero run` on a fresh database, from the real commands in their
own processes (issue 10, operator items 1, 2 and 7): one line per relay, with the error of the
one that cannot be reached; the disputes still open on the relays picked up and notified once,
however long ago they opened, and closed ones recorded quietly; and `serbero status` and
`serbero metrics`, without Redis, showing the daemon, its relays and its worker."""

import re
import time
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from serbero.config import sqlite_url
from serbero.db import open_database
from serbero.db.models import Dispute
from serbero.simulators.mostro_node import dispute_event
from tests.conftest import _free_port, run_serbero
from tests.integration.daemons import Daemon
from tests.integration.test_pipeline import wait_until
from tests.ops.conftest import write_config

DAY = 86400


def scrape(metrics: Daemon) -> dict:
    wait_until(lambda: "metrics on http://" in metrics.stdout())
    url = re.search(r"metrics on (http://\S+)", metrics.stdout()).group(1)
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_serbero_run_on_a_fresh_database_picks_up_what_is_open_and_shows_itself_without_redis(
        nostr_loop, relay, mostro, solver_ana, make_settings, tmp_path):
    now = int(time.time())
    # Given a relay holding the node's disputes from before Serbero ever ran: one revision each,
    # dated by its last change
    waiting, taken, settled, too_old = (str(uuid.uuid4()) for _ in range(4))
    for event in (
            dispute_event(mostro.keys, waiting, "initiated", created_at=now - 10 * DAY),
            dispute_event(mostro.keys, taken, "in-progress", created_at=now - 5 * DAY,
                          opened_at=now - 6 * DAY),
            dispute_event(mostro.keys, settled, "settled", created_at=now - 3 * DAY,
                          opened_at=now - 4 * DAY),
            dispute_event(mostro.keys, too_old, "initiated", created_at=now - 40 * DAY)):
        nostr_loop.run(mostro.send(event), 10)
    # and a second relay that cannot be reached
    closed = f"ws://127.0.0.1:{_free_port()}"
    settings = make_settings(relays=[relay, closed], mostro=mostro.pubkey, solvers=[solver_ana])
    config = str(write_config(tmp_path / "config.toml", settings))
    env = {"SERBERO_LOG": "info"}  # and no SERBERO_REDIS_URL: the embedded broker
    # When the operator starts `serbero run`
    run = Daemon("run", "-c", config, env=env)
    metrics = None
    try:
        # Then the log says which relay is connected and which is not, and why, one line each
        run.wait_for("subscribed", 2)
        [up], [down] = run.lines("relay_connected"), run.lines("relay_not_connected")
        assert relay in up and closed in down and "Connection refused" in down
        # and the disputes still open are notified, however long ago they opened
        nostr_loop.run(solver_ana.wait_for(1, waiting, timeout=20), 30)
        nostr_loop.run(solver_ana.wait_for(1, taken, timeout=20), 30)
        # and `serbero status`, from another process and without Redis, sees all of it
        status = run_serbero("status", "-c", config, env=env)
        assert status.returncode == 0, status.stderr
        out = status.stdout
        assert re.search(r"^listener\s+up: `serbero run` pid \d+ on \S+, heartbeat \d+s ago, "
                         r"running for \d+s; Redis embedded", out, re.M), out
        assert re.search(r"^relays\s+1/2 connected$", out, re.M), out
        assert re.search(rf"^\s+{re.escape(closed)}\s+NOT CONNECTED for \d+s: Connection "
                         "refused", out, re.M), out
        assert re.search(r"^workers\s+1 process consuming \(inside `serbero run`\), heartbeat "
                         r"\d+s ago \(alive: within 20s\); 8 threads, \d busy$", out, re.M), out
        # and so do the metrics
        metrics = Daemon("metrics", "-c", config, "--port", "0", env=env)
        found = scrape(metrics)
        assert found[("serbero_up", ())] == 1
        assert found[("serbero_listeners_up", ())] == 1
        assert found[("serbero_workers_alive", ())] == 1
        assert found[("serbero_relay_connected", (("relay", closed),))] == 0
        assert found[("serbero_relay_connected", (("relay", relay),))] == 1
    finally:
        code = run.stop()
        if metrics is not None:
            metrics.stop()
            metrics.close()
    assert code == 0, run.stderr()
    run.close()
    # Once each, and nothing about the closed dispute nor the one beyond the look-back
    assert len(solver_ana.texts(waiting)) == 1 and len(solver_ana.texts(taken)) == 1
    assert solver_ana.texts(settled) == [] and solver_ana.texts(too_old) == []
    db = open_database(sqlite_url(tmp_path / "serbero.db"))
    assert Dispute.get_by_id(settled).lifecycle_state == "resolved"  # recorded quietly
    assert Dispute.get_or_none(Dispute.dispute_id == too_old) is None
    db.close()
