"""What an operator sees when Redis goes away under a running deployment, from the real
`serbero listen` and `serbero worker` in their own processes against a Redis of the test's own
that it stops and starts again, empty (issue 10, defect 7 and operator item 4): one warning per
process when it goes, one when it is back, no traceback and no flood, nothing lost, and a clean
stop. (The line a minute while it stays down: tests/unit/test_outage.py.)"""

import time

from tests.conftest import NAMESPACE
from tests.integration.daemons import Daemon
from tests.ops.conftest import write_config

#: What dramatiq itself logs, from every consumer thread, while Redis is down.
DRAMATIQ_FLOOD = ("Consumer encountered a connection error", "Restarting consumer in")


def test_a_redis_outage_is_one_line_when_it_goes_one_when_it_is_back_and_loses_nothing(
        nostr_loop, relay, mostro, solver_ana, make_settings, private_redis, tmp_path):
    settings = make_settings(relays=[relay], mostro=mostro.pubkey, solvers=[solver_ana])
    config = str(write_config(tmp_path / "config.toml", settings))
    env = {"SERBERO_REDIS_URL": private_redis.url, "SERBERO_LOG": "info",
           "SERBERO_REDIS_NAMESPACE": f"{NAMESPACE}-outage"}
    listener = Daemon("listen", "-c", config, env=env)
    worker = Daemon("worker", "-c", config, "-p", "1", "-t", "2", env=env)
    try:
        listener.wait_for("subscribed", 2)
        worker.wait_for("worker_process_ready", timeout_s=60)
        # Given a deployment that works (its first notice proves every process is up)
        before = nostr_loop.run(mostro.open_dispute(), 10)
        nostr_loop.run(solver_ana.wait_for(1, before, timeout=20), 30)
        # When Redis stops, and a dispute opens while it is down
        private_redis.stop()
        during = nostr_loop.run(mostro.open_dispute(), 10)
        listener.wait_for("redis_unreachable")
        worker.wait_for("redis_unreachable")
        time.sleep(1.5)  # calls keep failing meanwhile
        # and comes back, empty (its queues are gone too)
        private_redis.start()
        listener.wait_for("redis_back")
        worker.wait_for("redis_back")
        # Then the dispute opened during the outage reaches the solver: nothing was lost
        nostr_loop.run(solver_ana.wait_for(1, during, timeout=20), 30)
        assert len(solver_ana.texts(before)) == 1 and len(solver_ana.texts(during)) == 1
    except BaseException:
        print("listener:", listener.stderr(), "worker:", worker.stderr(), sep="\n")
        raise
    finally:
        codes = listener.stop(), worker.stop()
    # and both stop cleanly, the listener saving its cursor
    assert codes == (0, 0), listener.stderr() + worker.stderr()
    assert listener.lines("listener_stopped")
    for daemon in (listener, worker):
        log = daemon.stderr()
        assert len(daemon.lines("redis_unreachable")) == 1, log
        assert len(daemon.lines("redis_back")) == 1, log
        assert "Traceback" not in log and not any(flood in log for flood in DRAMATIQ_FLOOD)
        daemon.close()
