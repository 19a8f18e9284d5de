"""The Mostro layer inside the daemon: the listener's second subscription hands the node's info
event and its replies to Serbero to the `events` queue, and a worker matches a take reply."""

import time

from serbero import clock
from serbero.mostro import info, take
from serbero.simulators.mostro_responder import MostroResponder
from serbero_workers import actors
from serbero_workers.wiring import build_listener
from tests.integration.test_pipeline import Serving, wait_until


def test_a_take_reply_reaches_the_request_through_listener_and_worker(
        nostr_loop, relay, mostro, runtime, broker, worker):
    responder = nostr_loop.run(
        MostroResponder(mostro, pow_bits=4, pow_first_contact=8).connect([relay]), 10)
    listener, _ = build_listener(runtime.settings)
    serving = Serving(nostr_loop, listener)
    try:
        # The node announces itself; a worker records what the listener handed over
        announce_until_recorded(nostr_loop, responder, runtime.settings)
        dispute_id = nostr_loop.run(mostro.open_dispute(), 10)
        wait_until(lambda: take.latest(dispute_id) is None and _recorded(dispute_id))
        # Serbero asks to take it; the request goes out through the outbox
        start = take.begin(dispute_id, signer=runtime.signer, node_pubkey=mostro.pubkey,
                           profile=info.current_profile(runtime.settings), now=clock.now(),
                           timeout_s=30)
        for row_id in start.outbox_ids:
            actors.publish_outbox_row.send(row_id)
        # The node's reply comes back through the listener and a worker matches it
        wait_until(lambda: take.latest(dispute_id).status == "taken", timeout=20)
        assert take.latest(dispute_id).request_id == start.request_id
    finally:
        serving.stop()
        nostr_loop.run(responder.shutdown(), 10)


def announce_until_recorded(nostr_loop, responder, settings, timeout_s=20.0):
    """Announce, and again each couple of seconds (a new event each time) until the node's
    info is recorded, as a node republishes it: an event published while the relay is still
    setting up the listener's new subscription can be missed (seen on a loaded machine; the
    client reports a subscription once it is sent, not once it is live)."""
    deadline = time.monotonic() + timeout_s
    while True:
        nostr_loop.run(responder.announce(), 10)
        try:
            wait_until(lambda: info.current_profile(settings).pow_bits == 8, timeout=2.5)
            return
        except AssertionError:
            assert time.monotonic() < deadline, "the node's info was never recorded"


def _recorded(dispute_id):
    from serbero.db.models import Dispute

    return Dispute.get_or_none(Dispute.dispute_id == dispute_id) is not None


def test_the_listener_warns_at_start_up_when_the_node_trusts_another_serbero(
        nostr_loop, relay, mostro, runtime, broker, caplog):
    import logging

    from nostr_sdk import Keys

    responder = nostr_loop.run(MostroResponder(
        mostro, serbero=Keys.generate().public_key().to_hex()).connect([relay]), 10)
    nostr_loop.run(responder.announce(), 10)
    listener, _ = build_listener(runtime.settings)
    with caplog.at_level(logging.ERROR, logger="serbero.mostro.info"):
        serving = Serving(nostr_loop, listener)
        try:
            wait_until(lambda: any(r.getMessage().startswith("mostro_serbero_key_mismatch")
                                   for r in caplog.records))
        finally:
            serving.stop()
            nostr_loop.run(responder.shutdown(), 10)
    assert info.current_profile(runtime.settings).refusal == "foreign_serbero_key"
