"""End to end through the daemon's own pieces: the listener reads a solver's reply from the
relay (a v2 `send-dm` on the solvers' subscription, a NIP-17 gift wrap on the node's), a worker
applies it, and the other solver hears once; with tiers, a delayed dramatiq step reaches the
second tier when nobody acknowledged."""

import time
import uuid

import dramatiq
import pytest

from serbero.db.models import Dispute, Outbox
from serbero_workers.wiring import build_listener
from tests.integration.test_pipeline import Serving, wait_until
from tests.tiers.conftest import solver


def notified(dispute_id):
    """The dispute was read from the relay and a relay accepted a notice about it."""
    dispute = Dispute.get_or_none(Dispute.dispute_id == dispute_id)
    return dispute is not None and dispute.lifecycle_state == "notified"


def open_until_notified(nostr_loop, mostro, timeout_s=20.0):
    """Open a dispute, and publish its `initiated` revision again (a new event) every few
    seconds until Serbero has notified it: an event published while the relay is still setting
    up the listener's new subscriptions can be missed (see test_mostro_wiring.py)."""
    dispute_id = str(uuid.uuid4())
    deadline = time.monotonic() + timeout_s
    while True:
        nostr_loop.run(mostro.send(mostro.revision(dispute_id, "initiated")), 10)
        try:
            wait_until(lambda: notified(dispute_id), timeout=3)
            return dispute_id
        except AssertionError:
            assert time.monotonic() < deadline, "the dispute was never notified"


@pytest.mark.parametrize("form", ["mostro-v2", "nip17"])
def test_a_reply_goes_from_the_relay_through_listener_and_worker_to_the_record(
        form, nostr_loop, mostro, runtime, broker, worker, solver_ana, solver_bo):
    listener, _ = build_listener(runtime.settings)
    serving = Serving(nostr_loop, listener)
    try:
        dispute_id = open_until_notified(nostr_loop, mostro)
        nostr_loop.run(solver_bo.wait_for(1, dispute_id, timeout=20), 25)
        nostr_loop.run(solver_bo.reply(runtime.settings.serbero_pubkey, "Ack", form=form,
                                       dispute_id=dispute_id), 10)
        wait_until(lambda: Dispute.get_by_id(dispute_id).acknowledged_by == solver_bo.pubkey,
                   timeout=20)
        [told] = nostr_loop.run(solver_ana.wait_for(1, "acknowledged by", timeout=20), 25)
        assert told.startswith(f"Dispute {dispute_id} \u00b7 acknowledged by npub1")
    finally:
        serving.stop()


@pytest.fixture
def tiered_worker(broker, make_runtime, solver_ana, solver_bo):
    rt = make_runtime(solvers=[solver(solver_ana, "write"), solver(solver_bo)],
                      sections={"notifications": {"format": "mostro-v2", "tiers": [
                          {"audience": "assigned", "wait_seconds": 2},
                          {"audience": "all", "wait_seconds": 60}]}})
    w = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    w.start()
    yield rt
    w.stop()


def test_a_delayed_step_reaches_the_second_tier_when_nobody_acknowledged(
        nostr_loop, mostro, tiered_worker, solver_ana, solver_bo):
    listener, _ = build_listener(tiered_worker.settings)
    serving = Serving(nostr_loop, listener)
    try:
        dispute_id = open_until_notified(nostr_loop, mostro)
        nostr_loop.run(solver_ana.wait_for(1, dispute_id, timeout=20), 25)
        assert not solver_bo.texts(dispute_id)
        # two seconds later the step (a dramatiq message with a delay) tells the second tier
        [text] = nostr_loop.run(solver_bo.wait_for(1, dispute_id, timeout=20), 25)
        assert text.startswith(f"Dispute {dispute_id} \u00b7 new")
        assert {o.recipient for o in Outbox.select().where(Outbox.dispute == dispute_id)} == \
            {solver_ana.pubkey, solver_bo.pubkey}
    finally:
        serving.stop()
