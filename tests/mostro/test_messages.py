"""The message codec: serde's exact serialisation, strict parsing, and no exception but
EventRejected for any input (hypothesis)."""

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serbero.errors import EventRejected, ProtocolError
from serbero.mostro import messages, payloads, replies
from serbero.mostro.messages import MostroMessage, message_from_json, parse_message

UUID = "308e1272-d5f4-47e6-bd97-3504baea9c23"
ORDER = "7d3b4a8e-1f2c-4b5d-9e6f-0a1b2c3d4e5f"
BUYER, SELLER = "aa" * 32, "bb" * 32

SOLVER_INFO = {
    "id": ORDER, "kind": "sell", "status": "dispute", "hash": None, "preimage": None,
    "order_previous_status": "fiat-sent", "initiator_pubkey": BUYER, "buyer_pubkey": BUYER,
    "seller_pubkey": SELLER, "initiator_full_privacy": False, "counterpart_full_privacy": True,
    "initiator_info": {"rating": 4.5, "reviews": 10, "operating_days": 30},
    "counterpart_info": None, "premium": 0, "payment_method": "bank transfer", "amount": 21000,
    "fiat_amount": 50000, "fee": 63, "routing_fee": 0, "buyer_invoice": "lnbc1…",
    "invoice_held_at": 1787160100, "taken_at": 1787160000, "created_at": 1787150000,
}


def took_json(payload: object, *, request_id: object = 42, msg_id: str | None = UUID) -> str:
    kind = {"version": 2, "request_id": request_id, "trade_index": None}
    if msg_id is not None:
        kind["id"] = msg_id
    kind |= {"action": "admin-took-dispute", "payload": payload}
    return json.dumps({"dispute": kind})


def test_fields_are_written_in_serde_order_with_nulls_and_no_spaces():
    msg = MostroMessage(wrapper="dispute", action="admin-take-dispute", id=UUID, request_id=7)
    assert msg.to_json() == ('{"dispute":{"version":2,"request_id":7,"trade_index":null,'
                             f'"id":"{UUID}","action":"admin-take-dispute","payload":null}}}}')


def test_id_is_omitted_when_absent_but_request_id_and_trade_index_are_always_written():
    msg = MostroMessage(wrapper="cant-do", action="cant-do", payload={"cant_do": None})
    assert msg.to_json() == ('{"cant-do":{"version":2,"request_id":null,"trade_index":null,'
                             '"action":"cant-do","payload":{"cant_do":null}}}')


def test_text_is_utf8_not_ascii_escaped():
    msg = MostroMessage(wrapper="dm", action="send-dm", id=UUID,
                        payload={"text_message": "¿Pagó? ✓ \"sí\""})
    assert '"text_message":"¿Pagó? ✓ \\"sí\\""' in msg.to_json()


def test_uppercase_uuid_is_written_lowercase_as_serde_does():
    msg = MostroMessage(wrapper="dispute", action="admin-take-dispute", id=UUID.upper())
    assert msg.id == UUID


def test_v1_requests_carry_version_1():
    msg = messages.take_dispute_request(UUID, request_id=1, version=1)
    assert msg.to_json().startswith('{"dispute":{"version":1,')


@pytest.mark.parametrize("bad", [
    {"wrapper": "admin", "action": "dispute"},
    {"wrapper": "order", "action": "no-such-action"},
    {"wrapper": "order", "action": "dispute", "version": 256},
    {"wrapper": "order", "action": "dispute", "request_id": -1},
    {"wrapper": "order", "action": "dispute", "request_id": 2**64},
    {"wrapper": "order", "action": "dispute", "trade_index": 2**63},
    {"wrapper": "order", "action": "dispute", "id": "not-a-uuid"},
    # issue 10, defect 9: a UUID with a trailing newline is not a UUID
    {"wrapper": "order", "action": "dispute", "id": "5b2f1c8e-9a4d-4e7b-8c1f-2d3e4f5a6b7c\n"},
    {"wrapper": "order", "action": "dispute", "payload": {"a": 1, "b": 2}},
    {"wrapper": "order", "action": "dispute", "request_id": True},
])
def test_invalid_messages_cannot_be_built(bad):
    with pytest.raises(ProtocolError):
        MostroMessage(**bad)


def test_parsing_accepts_a_legacy_message_without_request_id_and_trade_index():
    msg = message_from_json(f'{{"order":{{"version":1,"id":"{UUID}","action":"canceled",'
                            '"payload":null}}')
    assert (msg.version, msg.request_id, msg.trade_index, msg.action) == (1, None, None, "canceled")


def test_took_dispute_with_solver_info_array_shape():
    reply = replies.solver_reply(message_from_json(took_json({"dispute": [UUID, SOLVER_INFO]})))
    assert isinstance(reply, replies.TookDispute)
    assert (reply.request_id, reply.dispute_id) == (42, UUID)
    assert (reply.info.order_id, reply.info.buyer_pubkey, reply.info.seller_pubkey) == (
        ORDER, BUYER, SELLER)
    assert reply.info.initiator_info == payloads.Reputation(4.5, 10, 30)
    assert not hasattr(reply.info, "buyer_invoice")  # never kept, never forwarded


def test_book_dispute_payload_bare_string_shape_is_accepted():
    assert payloads.dispute({"dispute": UUID}) == (UUID, None)
    assert payloads.dispute({"dispute": [UUID, None]}) == (UUID, None)


def test_took_dispute_without_solver_info_is_rejected():
    with pytest.raises(EventRejected) as err:
        replies.solver_reply(message_from_json(took_json({"dispute": UUID})))
    assert err.value.reason == "bad_payload"


def test_took_dispute_whose_id_differs_from_its_payload_is_a_mismatch():
    other = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(EventRejected) as err:
        replies.solver_reply(message_from_json(took_json({"dispute": [other, SOLVER_INFO]})))
    assert err.value.reason == "dispute_mismatch"


@pytest.mark.parametrize("reason", sorted(payloads.CANT_DO_REASONS))
def test_every_cant_do_reason_is_understood(reason):
    msg = MostroMessage(wrapper="cant-do", action="cant-do", id=UUID, request_id=3,
                        payload={"cant_do": reason})
    assert replies.solver_reply(message_from_json(msg.to_json())) == replies.CantDo(3, UUID, reason)


def test_cant_do_without_reason_and_with_an_unknown_reason():
    msg = MostroMessage(wrapper="cant-do", action="cant-do", payload={"cant_do": None})
    assert replies.solver_reply(msg).reason is None
    unknown = MostroMessage(wrapper="cant-do", action="cant-do", payload={"cant_do": "bored"})
    with pytest.raises(EventRejected) as err:
        replies.solver_reply(unknown)
    assert err.value.reason == "unknown_cant_do_reason"


@pytest.mark.parametrize(("action", "status"), [("cooperative-cancel-accepted",
                                                  "cooperatively-canceled"),
                                                 ("released", "released")])
def test_users_closing_a_taken_dispute_is_recognised(action, status):
    msg = MostroMessage(wrapper="order", action=action, id=ORDER,
                        payload={"dispute": [UUID, None]})
    assert replies.solver_reply(msg) == replies.ClosedByUsers(UUID, ORDER, status)


def test_a_peer_notice_names_the_solver():
    msg = MostroMessage(wrapper="order", action="admin-took-dispute", id=ORDER, request_id=9,
                        payload={"peer": {"pubkey": BUYER, "reputation": None}})
    notice = replies.peer_notice(message_from_json(msg.to_json()))
    assert (notice.order_id, notice.peer.pubkey, notice.request_id) == (ORDER, BUYER, 9)


def test_an_action_serbero_does_not_expect_is_rejected():
    msg = MostroMessage(wrapper="order", action="fiat-sent", id=ORDER)
    with pytest.raises(EventRejected) as err:
        replies.solver_reply(msg)
    assert err.value.reason == "unexpected_action"


@pytest.mark.parametrize(("text", "reason"), [
    (took_json(None)[:-7], "malformed_json"),                         # truncated
    ('{"dispute":{"action":"admin-took-dispute","version":2}}', "reordered_fields"),
    ('{"dispute":{"version":2,"request_id":1,"trade_index":null,"payload":null,'
     '"action":"cant-do"}}', "reordered_fields"),
    ('{"dispute":{"version":2,"action":"cant-do","colour":"red"}}', "unknown_field"),
    ('{"dispute":{"version":2,"version":3,"action":"cant-do"}}', "duplicate_key"),
    ('{"dispute":{"version":2}}', "missing_field"),
    ('{"dispute":{"version":2,"action":"teleport"}}', "unknown_action"),
    ('{"dispute":{"version":NaN,"action":"cant-do"}}', "malformed_json"),
    ('{"order":{"version":2},"dispute":{"version":2}}', "bad_message"),
    ('{"refund":{"version":2,"action":"cant-do"}}', "bad_message"),
    ('[1,2]', "bad_message"),
    ('{"dispute":{"version":"2","action":"cant-do"}}', "bad_message"),
    ("[" * 100_000, "content_too_large"),
    ("[" * 60_000, "malformed_json"),
])
def test_bad_json_is_rejected_with_a_reason(text, reason):
    with pytest.raises(EventRejected) as err:
        message_from_json(text)
    assert err.value.reason == reason


MESSAGES = st.builds(
    MostroMessage,
    wrapper=st.sampled_from(messages.WRAPPERS),
    action=st.sampled_from(sorted(messages.ACTIONS)),
    id=st.none() | st.uuids().map(str),
    request_id=st.none() | st.integers(0, messages.U64_MAX),
    trade_index=st.none() | st.integers(messages.I64_MIN, messages.I64_MAX),
    payload=st.none() | st.dictionaries(st.text(max_size=8), st.text() | st.integers()
                                        | st.none(), min_size=1, max_size=1),
    version=st.integers(0, 255),
)


@settings(max_examples=200, deadline=None)
@given(MESSAGES)
def test_every_message_round_trips_through_its_own_json(msg):
    assert message_from_json(msg.to_json()) == msg


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    JSON,
    st.dictionaries(st.sampled_from(messages.WRAPPERS),
                    st.dictionaries(st.sampled_from([*messages.FIELDS, "x"]), JSON, max_size=7),
                    min_size=1, max_size=1)))
def test_parsing_any_json_value_either_succeeds_or_is_rejected(value):
    try:
        msg = parse_message(value)
    except EventRejected:
        return
    assert msg.action in messages.ACTIONS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | MESSAGES.map(lambda m: m.to_json()).flatmap(
    lambda js: st.integers(0, len(js)).map(lambda cut: js[:cut])))
def test_any_text_or_truncation_either_parses_or_is_rejected(text):
    with contextlib.suppress(EventRejected):
        message_from_json(text)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_reply_parsers_never_raise_anything_but_event_rejected(value):
    for action in ("admin-took-dispute", "cant-do", "released", "send-dm"):
        for key in ("dispute", "cant_do", "peer", "text_message"):
            msg = MostroMessage(wrapper="dispute", action=action, id=UUID, payload={key: value})
            for parse in (replies.solver_reply, replies.peer_notice):
                with contextlib.suppress(EventRejected):
                    parse(msg)


SCALAR = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
          | st.text(max_size=70) | st.just("ab" * 32) | st.just({"rating": 1}))


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({k: SCALAR for k in SOLVER_INFO}).map(lambda d: {**d, "id": ORDER})
       | st.fixed_dictionaries({}, optional={k: SCALAR for k in SOLVER_INFO}))
def test_solver_dispute_info_of_any_shape_is_parsed_or_rejected(value):
    with contextlib.suppress(EventRejected):
        info = payloads.solver_dispute_info(value)
        assert info.order_id == ORDER
