"""Message signatures and content tuples: nostr-sdk signs, coincurve verifies, and a tampered or
re-ordered tuple is refused with a reason."""

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_sdk import Keys

from serbero.errors import EventRejected
from serbero.mostro import signing
from serbero.mostro.messages import MostroMessage, take_dispute_request
from serbero.mostro.protocols import V1, V2

UUID = "308e1272-d5f4-47e6-bd97-3504baea9c23"
CORE_KEYS = Keys.parse("110e43647eae221ab1da33ddc17fd6ff423f2b2f49d809b9ffa40794a2ab996c")


def test_a_message_signature_is_schnorr_over_sha256_of_its_json():
    msg = take_dispute_request(UUID, request_id=42)
    sig = signing.sign_text(msg.to_json(), CORE_KEYS)
    assert len(sig) == 128
    assert signing.verify_text(msg.to_json(), sig, CORE_KEYS.public_key().to_hex())
    assert not signing.verify_text(msg.to_json().replace("42", "43"), sig,
                                   CORE_KEYS.public_key().to_hex())
    assert not signing.verify_text(msg.to_json(), sig, Keys.generate().public_key().to_hex())


@pytest.mark.parametrize("bad", [None, "", "zz" * 64, "00" * 63, 7])
def test_a_malformed_signature_is_simply_false(bad):
    assert not signing.verify_text("x", bad, CORE_KEYS.public_key().to_hex())
    assert not signing.verify_text("x", "00" * 64, bad)


def test_serbero_sends_unsigned_tuples_by_default():
    msg = take_dispute_request(UUID, request_id=1)
    assert json.loads(signing.encode(msg, transport=V2)) == [msg.to_obj(), None, None]
    assert json.loads(signing.encode(msg, transport=V1)) == [msg.to_obj(), None]


@pytest.mark.parametrize("transport", [V1, V2])
def test_signed_tuples_decode_and_verify(transport):
    msg = take_dispute_request(UUID, request_id=5)
    text = signing.encode(msg, transport=transport, signer=CORE_KEYS)
    content = signing.decode(text, transport=transport, author=CORE_KEYS.public_key().to_hex())
    assert content.message == msg and content.signed


def test_a_v2_identity_proof_names_the_identity():
    trade, identity = Keys.generate(), Keys.generate()
    msg = take_dispute_request(UUID, request_id=5)
    text = signing.encode(msg, transport=V2, signer=trade, identity=identity)
    content = signing.decode(text, transport=V2, author=trade.public_key().to_hex())
    assert content.identity == identity.public_key().to_hex()


def test_a_proof_made_for_another_author_is_refused():
    trade, identity = Keys.generate(), Keys.generate()
    text = signing.encode(take_dispute_request(UUID, request_id=5), transport=V2, signer=trade,
                          identity=identity)
    with pytest.raises(EventRejected) as err:
        signing.decode(text, transport=V2, author=Keys.generate().public_key().to_hex())
    assert err.value.reason == "bad_message_signature"
    tup = json.loads(text)
    tup[1] = None  # drop the trade signature: the identity proof still binds the author
    with pytest.raises(EventRejected) as err:
        signing.decode(json.dumps(tup), transport=V2, author=Keys.generate().public_key().to_hex())
    assert err.value.reason == "bad_identity_proof"


def test_a_signature_over_different_bytes_is_refused():
    msg = take_dispute_request(UUID, request_id=5)
    sig = signing.sign_text(msg.to_json().replace('"request_id":5', '"request_id":6'), CORE_KEYS)
    with pytest.raises(EventRejected) as err:
        signing.decode(json.dumps([msg.to_obj(), sig]), transport=V1,
                       author=CORE_KEYS.public_key().to_hex())
    assert err.value.reason == "bad_message_signature"


@pytest.mark.parametrize(("transport", "tuple_"), [
    (V2, "[null, MSG, null]"),          # re-ordered
    (V2, "[MSG, null]"),                # v1 shape on v2
    (V1, "[MSG, null, null]"),          # v2 shape on v1
    (V2, "MSG"),                        # no tuple at all
    (V2, "[MSG, null, [\"ab\"]]"),      # malformed identity
])
def test_a_tuple_of_the_wrong_shape_is_refused(transport, tuple_):
    msg = MostroMessage(wrapper="cant-do", action="cant-do", payload={"cant_do": None})
    with pytest.raises(EventRejected) as err:
        signing.decode(tuple_.replace("MSG", msg.to_json()), transport=transport, author="ab" * 32)
    assert err.value.reason in ("bad_content_tuple", "bad_message")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.sampled_from([V1, V2]))
def test_decoding_any_text_either_succeeds_or_is_rejected(text, transport):
    with contextlib.suppress(EventRejected):
        signing.decode(text, transport=transport, author="ab" * 32)
