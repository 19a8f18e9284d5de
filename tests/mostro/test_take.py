"""The take-dispute exchange without a relay: what `begin` writes, how replies are matched (by
request id *and* dispute id), timeouts, possible silent takes, and the outbox hooks. Tests that
ask for `backend` also run on PostgreSQL (the partial unique index, ON CONFLICT, the join)."""

import json
import time
import uuid

import pytest
from nostr_sdk import Keys

from serbero import outbox
from serbero.db.models import AuditEvent, Outbox
from serbero.errors import PublishError
from serbero.mostro import info, protocols, signing, take, take_timeouts, transport
from serbero.mostro.messages import MostroMessage
from serbero.mostro.models import TakeRequest
from serbero.mostro.take_replies import ingest_reply
from serbero.nostr.relays import PublishOutcome
from tests.conftest import OneAtATime, via
from tests.mostro.conftest import solver_info

V2_PROFILE = info.NodeProfile(protocols.V2, 4, info.OURS, None, "announced")
BUYER, SELLER = Keys.generate().public_key().to_hex(), Keys.generate().public_key().to_hex()


@pytest.fixture
def begin(serbero_keys, node_keys):
    def start(dispute_id, *, profile=V2_PROFILE, now=None, timeout_s=30):
        return take.begin(dispute_id, signer=serbero_keys, node_pubkey=node_keys.public_key()
                          .to_hex(), profile=profile, now=now or int(time.time()),
                          timeout_s=timeout_s)
    return start


@pytest.fixture
def apply(serbero_keys, node_keys):
    def apply_(raw, now=None):
        return ingest_reply(raw, keys=serbero_keys, node_pubkey=node_keys.public_key().to_hex(),
                            now=now or int(time.time()))
    return apply_


def took(dispute_id, request_id, *, order_id=None, buyer=BUYER, seller=SELLER, version=2):
    info_ = solver_info(order_id or str(uuid.uuid4()), buyer, seller)
    return MostroMessage(wrapper="dispute", action="admin-took-dispute", id=dispute_id,
                         request_id=request_id, payload={"dispute": [dispute_id, info_]},
                         version=version)


def cant_do(dispute_id, request_id, reason="not_found"):
    return MostroMessage(wrapper="cant-do", action="cant-do", id=dispute_id,
                         request_id=request_id, payload={"cant_do": reason})


def snapshot():
    """Everything a reply may change: take rows and the audit trail."""
    rows = [tuple(r) for r in TakeRequest.select().order_by(TakeRequest.id).tuples()]
    return rows, AuditEvent.select().count()


def test_begin_stores_a_pending_request_and_a_signed_event_for_the_node(
        record_dispute, begin, node_keys, serbero_keys):
    dispute_id = record_dispute()
    start = begin(dispute_id)
    assert start.outcome == "sent" and len(start.outbox_ids) == 1
    request = TakeRequest.get(TakeRequest.request_id == start.request_id)
    assert (request.status, request.dispute_id, request.transport) == ("pending", dispute_id, "v2")
    row = Outbox.get_by_id(start.outbox_ids[0])
    assert (row.purpose, row.recipient, row.message_id) == (
        take.PURPOSE_NAME, node_keys.public_key().to_hex(), request.event_id)
    # the node reads admin-take-dispute for this dispute, with the request id, mined to 4 bits
    opened = transport.open_event(row.body, keys=node_keys, now=int(time.time()),
                                  expected_sender=serbero_keys.public_key().to_hex())
    assert opened.pow_bits >= 4
    content = signing.decode(opened.content, transport=opened.transport, author=opened.author)
    assert json.loads(opened.content)[1:] == [None, None]
    assert (content.message.action, content.message.id, content.message.request_id) == (
        "admin-take-dispute", dispute_id, start.request_id)
    assert 0 < start.request_id < 2**53


@pytest.mark.parametrize(("profile", "reason"), [
    (info.NodeProfile(protocols.V2, 0, info.FOREIGN, "foreign_serbero_key", "announced"),
     "foreign_serbero_key"),
    (info.NodeProfile(protocols.V2, 0, info.ABSENT, "node_info_unknown", "unknown"),
     "node_info_unknown"),
])
def test_begin_refuses_when_the_node_profile_forbids_it(record_dispute, begin, profile, reason):
    dispute_id = record_dispute()
    assert begin(dispute_id, profile=profile).outcome == reason
    assert TakeRequest.select().count() == 0
    assert AuditEvent.get(AuditEvent.kind == "take_not_attempted").payload["reason"] == reason


def test_begin_refuses_unknown_taken_and_already_pending_disputes(backend, record_dispute, begin):
    assert begin(str(uuid.uuid4())).outcome == "unknown_dispute"
    taken = record_dispute(status="in-progress")
    assert begin(taken).outcome == "not_takeable"
    dispute_id = record_dispute()
    assert begin(dispute_id).outcome == "sent"
    assert begin(dispute_id).outcome == "already_pending"
    assert TakeRequest.select().count() == 1 and Outbox.select().count() == 1


@pytest.mark.parametrize("mode", [protocols.V2, protocols.V1])
def test_a_matching_reply_records_the_take_and_the_trade_keys(backend, record_dispute, begin,
                                                              apply, reply_from, mode):
    dispute_id = record_dispute()
    profile = info.NodeProfile(mode, 0, info.OURS, None, "config")
    start = begin(dispute_id, profile=profile)
    order_id = str(uuid.uuid4())
    outcome = apply(reply_from(took(dispute_id, start.request_id, order_id=order_id,
                                    version=1 if mode == protocols.V1 else 2), mode=mode))
    assert (outcome.outcome, outcome.dispute_id) == ("taken", dispute_id)
    request = take.latest(dispute_id)
    assert (request.status, request.order_id, request.buyer_pubkey, request.seller_pubkey) == (
        "taken", order_id, BUYER, SELLER)
    assert AuditEvent.get(AuditEvent.kind == "take_accepted").dispute_id == dispute_id


def test_the_same_reply_twice_is_applied_once(backend, record_dispute, begin, apply, reply_from):
    dispute_id = record_dispute()
    start = begin(dispute_id)
    raw = reply_from(took(dispute_id, start.request_id))
    assert apply(raw).outcome == "taken"
    before = snapshot()
    assert apply(raw).outcome == "duplicate"
    assert snapshot() == before


def test_cant_do_is_a_typed_refusal(record_dispute, begin, apply, reply_from):
    dispute_id = record_dispute()
    start = begin(dispute_id)
    outcome = apply(reply_from(cant_do(dispute_id, start.request_id, "invalid_pubkey")))
    assert (outcome.outcome, outcome.reason) == ("refused", "invalid_pubkey")
    request = take.latest(dispute_id)
    assert (request.status, request.reason) == ("refused", "invalid_pubkey")


def test_an_old_reply_replayed_by_a_relay_cannot_satisfy_a_new_request(
        backend, record_dispute, begin, apply, reply_from):
    # Given a first take that Mostro refused, and a second request for the same dispute
    dispute_id = record_dispute()
    first = begin(dispute_id)
    old_reply = reply_from(cant_do(dispute_id, first.request_id, "not_found"))
    assert apply(old_reply).outcome == "refused"
    second = begin(dispute_id)
    other = record_dispute()
    before = snapshot()
    # When a relay replays the old refusal, and a reply meant for another dispute shows up
    assert apply(old_reply).outcome == "duplicate"
    foreign = apply(reply_from(took(other, second.request_id)))
    # Then the new request is untouched (GAP-30)
    assert (foreign.outcome, foreign.reason) == ("rejected", "dispute_mismatch")
    assert snapshot() == before
    assert TakeRequest.get(TakeRequest.request_id == second.request_id).status == "pending"


@pytest.mark.parametrize(("build", "reason"), [
    (lambda d, r: took(d, None), "missing_request_id"),
    (lambda d, r: took(d, r + 1), "unknown_request"),
    (lambda d, r: cant_do(str(uuid.uuid4()), r), "dispute_mismatch"),
    (lambda d, r: took(d, r, buyer=BUYER, seller=BUYER), "identical_parties"),
    (lambda d, r: took(d, r, seller=None), "incomplete_solver_info"),
    (lambda d, r: cant_do(d, r, "tired"), "unknown_cant_do_reason"),
    (lambda d, r: MostroMessage(wrapper="order", action="fiat-sent", id=d), "unexpected_action"),
])
def test_bad_replies_are_rejected_without_any_state_change(record_dispute, begin, apply,
                                                           reply_from, build, reason):
    dispute_id = record_dispute()
    start = begin(dispute_id)
    before = snapshot()
    outcome = apply(reply_from(build(dispute_id, start.request_id)))
    assert (outcome.outcome, outcome.reason) == ("rejected", reason)
    assert snapshot() == before


def test_replies_from_anyone_but_the_node_or_from_before_the_request_are_rejected(
        record_dispute, begin, apply, reply_from):
    dispute_id = record_dispute()
    start = begin(dispute_id)
    before = snapshot()
    impostor = apply(reply_from(took(dispute_id, start.request_id), sender=Keys.generate()))
    assert impostor.reason == "wrong_sender"
    stale = apply(reply_from(took(dispute_id, start.request_id), at=int(time.time()) - 3600))
    assert stale.reason == "reply_predates_request"
    assert apply("{not json").reason == "malformed_json"
    assert snapshot() == before


def test_silence_times_out_and_a_late_reply_still_records_the_take(record_dispute, begin, apply,
                                                                   reply_from):
    dispute_id = record_dispute()
    now = int(time.time())
    start = begin(dispute_id, now=now, timeout_s=5)
    assert take_timeouts.expire_due(now + 4) == []
    assert take_timeouts.expire_due(now + 5) == [dispute_id]
    assert take.latest(dispute_id).status == "timed_out"
    assert take_timeouts.expire_due(now + 6) == []
    late = apply(reply_from(took(dispute_id, start.request_id)), now=now + 20)
    assert late.outcome == "taken"
    assert AuditEvent.get(AuditEvent.kind == "take_accepted").payload["was"] == "timed_out"


def test_an_unexplained_in_progress_after_a_timeout_is_a_possible_silent_take(
        backend, record_dispute, begin, serbero_keys):
    # Given a take that timed out
    dispute_id = record_dispute()
    now = int(time.time())
    begin(dispute_id, now=now, timeout_s=1)
    take_timeouts.expire_due(now + 2)
    me = serbero_keys.public_key().to_hex()
    # When another solver's in-progress shows up, it is explained: no report
    assert not take_timeouts.note_revision(dispute_id, status="in-progress", revision_at=now + 3,
                                           solver="ab" * 32, serbero_pubkey=me, now=now + 3)
    # When Mostro's next revision is in-progress naming nobody
    record_dispute(dispute_id, status="in-progress", at=now + 3)
    # Then the sweep reports a possible silent take, once
    assert take_timeouts.scan_silent_takes(me, now + 4) == [dispute_id]
    assert take_timeouts.scan_silent_takes(me, now + 5) == []
    assert take.latest(dispute_id).status == "possible_silent_take"
    assert AuditEvent.get(AuditEvent.kind == "possible_silent_take").dispute_id == dispute_id


def test_a_revision_older_than_the_request_is_not_a_silent_take(record_dispute, begin,
                                                                serbero_keys):
    dispute_id = record_dispute()
    now = int(time.time())
    begin(dispute_id, now=now, timeout_s=1)
    take_timeouts.expire_due(now + 2)
    assert not take_timeouts.note_revision(
        dispute_id, status="in-progress", revision_at=now - 60, solver=None,
        serbero_pubkey=serbero_keys.public_key().to_hex(), now=now + 3)


def test_users_closing_a_taken_dispute_is_recorded(record_dispute, begin, apply, reply_from):
    dispute_id = record_dispute()
    start = begin(dispute_id)
    order_id = str(uuid.uuid4())
    apply(reply_from(took(dispute_id, start.request_id, order_id=order_id)))
    notice = MostroMessage(wrapper="order", action="released", id=order_id,
                           payload={"dispute": [dispute_id, None]})
    assert apply(reply_from(notice)).outcome == "closed_by_users"
    assert take.latest(dispute_id).closed_status == "released"
    assert apply(reply_from(notice)).outcome == "duplicate"
    unknown = MostroMessage(wrapper="order", action="released", id=order_id,
                            payload={"dispute": [str(uuid.uuid4()), None]})
    assert apply(reply_from(unknown)).reason == "unknown_dispute"


def test_a_send_dm_is_noted_without_state(record_dispute, apply, reply_from):
    dm = MostroMessage(wrapper="dm", action="send-dm", id=str(uuid.uuid4()),
                       payload={"text_message": "hello solver"})
    before = snapshot()
    assert apply(reply_from(dm)).outcome == "text_dm"
    assert snapshot() == before


class FakeRelay(OneAtATime):
    def __init__(self, error=None):
        self.error, self.published = error, []

    def publish(self, event_json):
        if self.error:
            raise self.error
        self.published.append(event_json)
        return PublishOutcome(json.loads(event_json)["id"], ("ws://r",))


def test_the_outbox_publishes_a_fresh_request_and_stamps_it(record_dispute, begin,
                                                            make_settings):
    start = begin(record_dispute())
    relay = FakeRelay()
    now = int(time.time())
    status = outbox.publish(start.outbox_ids[0], channels=via(relay), settings=make_settings(),
                            now=now)
    assert status == "sent" and len(relay.published) == 1
    assert take.latest(TakeRequest.get().dispute_id).sent_at == now


def test_a_request_that_could_not_go_out_promptly_is_not_retried(record_dispute, begin,
                                                                 make_settings, monkeypatch):
    # Given a request whose publication was delayed past mostrod's freshness window
    dispute_id = record_dispute()
    start = begin(dispute_id)
    monkeypatch.setattr("serbero.clock.now", lambda: int(time.time()) + 11)
    relay = FakeRelay()
    # Then the outbox cancels it rather than send something mostrod will drop
    assert outbox.publish(start.outbox_ids[0], channels=via(relay), settings=make_settings(),
                          now=int(time.time()) + 11) == "cancelled"
    assert relay.published == []
    assert take.latest(dispute_id).status == "unsent"


def test_a_permanent_publish_failure_marks_the_request_unsent(record_dispute, begin,
                                                              make_settings):
    dispute_id = record_dispute()
    start = begin(dispute_id)
    relay = FakeRelay(PublishError("blocked: no", permanent=True))
    assert outbox.publish(start.outbox_ids[0], channels=via(relay), settings=make_settings(),
                          now=int(time.time())) == "failed"
    request = take.latest(dispute_id)
    assert request.status == "unsent" and "blocked" in request.reason


def fake_clock(monkeypatch, *readings):
    ticks = iter(readings)
    monkeypatch.setattr("serbero.clock.now", lambda: next(ticks))


def test_a_request_mined_too_slowly_is_restamped_ahead_by_the_mining_time(
        record_dispute, begin, monkeypatch, node_keys):
    # Given mining that takes 10 s the first time (stale for mostrod) and 2 s the second
    dispute_id = record_dispute()
    fake_clock(monkeypatch, 1000, 1010, 1010, 1012)
    start = begin(dispute_id, now=1000)
    # Then the request that goes out is the second one, stamped 10 s ahead
    assert start.outcome == "sent"
    event = json.loads(Outbox.get_by_id(start.outbox_ids[0]).body)
    assert event["created_at"] == 1020


def test_a_request_that_cannot_be_mined_in_time_is_not_sent(record_dispute, begin, monkeypatch):
    dispute_id = record_dispute()
    fake_clock(monkeypatch, 1000, 1030, 1030, 1090, 1090, 1300)
    assert begin(dispute_id, now=1000).outcome == "pow_too_slow"
    assert TakeRequest.select().count() == 0 and Outbox.select().count() == 0
