"""Taking a dispute from a simulated Mostro node over a real in-process relay: success on both
transports (with the parties told Serbero's key), cant-do, silence, too little work, and a
silent take (Mostro issue 812)."""

import time

import pytest

from serbero import clock
from serbero.db.models import AuditEvent, Dispute
from serbero.disputes import ingest
from serbero.mostro import info, take, take_timeouts
from serbero.mostro.protocols import V1, V2


@pytest.mark.parametrize("mode", [V2, V1])
def test_serbero_takes_a_dispute_and_both_parties_learn_its_key(
        nostr_loop, serbero, responder, make_party, mode):
    # Given a node speaking `mode` that demands 8 bits of work from newcomers
    responder.transport = mode
    profile = serbero.learn_node()
    assert (profile.transport, profile.pow_bits) == (mode, 8)
    dispute_id = serbero.open_dispute()
    order = responder.order_for(dispute_id)
    buyer, seller = make_party(order.buyer, "buyer"), make_party(order.seller, "seller")
    # When Serbero asks to take it
    start = serbero.take(dispute_id)
    # Then the node's reply records the take with the parties' trade keys
    assert serbero.replies(1) == ["taken"]
    # after it saw a well-formed, mined request from Serbero's key
    [seen] = responder.takes
    assert (seen.dispute_id, seen.request_id, seen.identity, seen.transport) == (
        dispute_id, start.request_id, serbero.pubkey, mode)
    assert seen.pow_bits >= 8
    request = take.latest(dispute_id)
    assert (request.status, request.order_id) == ("taken", order.order_id)
    assert (request.buyer_pubkey, request.seller_pubkey) == (buyer.pubkey, seller.pubkey)
    # and both parties' clients now know Serbero as their solver
    assert nostr_loop.run(buyer.wait_for_solver(), 15) == serbero.pubkey
    assert nostr_loop.run(seller.wait_for_solver(), 15) == serbero.pubkey
    assert buyer.order_id == order.order_id


def test_a_refusal_is_a_typed_outcome(serbero, responder):
    serbero.learn_node()
    dispute_id = serbero.open_dispute()
    responder.behaviour[dispute_id] = "cant-do:invalid_pubkey"
    serbero.take(dispute_id)
    assert serbero.replies(1) == ["refused"]
    request = take.latest(dispute_id)
    assert (request.status, request.reason) == ("refused", "invalid_pubkey")


def _wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_silence_ends_in_a_timeout(serbero, responder, collector):
    serbero.learn_node()
    dispute_id = serbero.open_dispute()
    responder.behaviour[dispute_id] = "silence"
    start = serbero.take(dispute_id, timeout_s=2)
    _wait_until(lambda: responder.takes)  # the node did receive it, and said nothing
    time.sleep(0.3)
    assert collector.events.get("replies", []) == []
    request = take.latest(dispute_id)
    assert take_timeouts.expire_due(request.deadline_at - 1) == []
    assert take_timeouts.expire_due(request.deadline_at) == [dispute_id]
    assert take.latest(dispute_id).status == "timed_out"
    assert start.request_id == request.request_id


def test_too_little_work_is_dropped_by_the_node_and_times_out(serbero, responder):
    profile = serbero.learn_node()
    dispute_id = serbero.open_dispute()
    weak = info.NodeProfile(profile.transport, 0, profile.serbero_status, None, "config")
    serbero.take(dispute_id, profile=weak, timeout_s=1)
    _wait_until(lambda: responder.dropped)
    assert responder.dropped == ["under_pow"] and responder.takes == []
    assert take_timeouts.expire_due(clock.now() + 2) == [dispute_id]


def test_a_take_marked_without_a_reply_is_reported_as_a_possible_silent_take(
        nostr_loop, serbero, responder, collector):
    # Given a node that assigns the dispute but never answers (Mostro issue 812)
    serbero.learn_node()
    dispute_id = serbero.open_dispute()
    responder.behaviour[dispute_id] = "silent_take"
    serbero.take(dispute_id, timeout_s=1)
    # When its in-progress revision reaches Serbero and the take times out
    [_, revision] = nostr_loop.run(collector.wait_for("disputes", 2), 10)
    ingest.ingest(revision, settings=serbero.settings, signer=serbero.keys, now=clock.now())
    assert Dispute.get_by_id(dispute_id).dispute_status == "in-progress"
    take_timeouts.expire_due(clock.now() + 2)
    # Then the sweep reports it for a human to check
    assert take_timeouts.scan_silent_takes(serbero.pubkey, clock.now() + 2) == [dispute_id]
    assert AuditEvent.get(AuditEvent.kind == "possible_silent_take").dispute_id == dispute_id
