"""Transports: v2 kind 14 and v1 gift wrap, built by Serbero and opened by nostr-sdk (and the
other way round), proof of work, and every refusal of `open_event`."""

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_sdk import (
    EventBuilder,
    Keys,
    Kind,
    Nip44Version,
    Tag,
    Timestamp,
    UnwrappedGift,
    nip17_make_private_msg,
    nip44_decrypt,
    nip44_encrypt,
)

from serbero.errors import EventRejected
from serbero.mostro import transport
from serbero.mostro.protocols import V1, V2

SENDER, RECEIVER = Keys.generate(), Keys.generate()
NOW = int(time.time())


def opened(event, *, keys=RECEIVER, now=NOW, sender=None):
    return transport.open_event(event.as_json(), keys=keys, now=now, expected_sender=sender)


def reason_of(event_or_raw, **kwargs) -> str:
    raw = event_or_raw if isinstance(event_or_raw, str) else event_or_raw.as_json()
    with pytest.raises(EventRejected) as err:
        transport.open_event(raw, keys=kwargs.pop("keys", RECEIVER), now=NOW, **kwargs)
    return err.value.reason


def test_v2_is_kind_14_nip44_to_the_recipient_with_p_and_expiration():
    event = transport.wrap("[1]", transport=V2, sender=SENDER,
                           recipient=RECEIVER.public_key().to_hex(), now=NOW, expiration=NOW + 60)
    assert event.verify() and event.kind().as_u16() == 14
    assert event.created_at().as_secs() == NOW
    assert [t.to_vec() for t in event.tags()] == [["p", RECEIVER.public_key().to_hex()],
                                                  ["expiration", str(NOW + 60)]]
    # nostr-sdk's own NIP-44 opens it
    assert nip44_decrypt(RECEIVER.secret_key(), SENDER.public_key(), event.content()) == "[1]"
    got = opened(event, sender=SENDER.public_key().to_hex())
    assert (got.transport, got.content, got.sender, got.created_at) == (
        V2, "[1]", SENDER.public_key().to_hex(), NOW)


def test_v1_is_a_gift_wrap_that_nostr_sdk_unwraps():
    event = transport.wrap("[2]", transport=V1, sender=SENDER,
                           recipient=RECEIVER.public_key().to_hex(), now=NOW)
    assert event.kind().as_u16() == 1059 and event.verify()
    assert NOW - 2 * 86400 <= event.created_at().as_secs() <= NOW  # NIP-59 tweak
    gift = UnwrappedGift.from_gift_wrap(RECEIVER, event)
    assert gift.sender().to_hex() == SENDER.public_key().to_hex()
    assert gift.rumor().content() == "[2]" and gift.rumor().kind().as_u16() == 1
    assert gift.rumor().created_at().as_secs() == NOW
    got = opened(event, sender=SENDER.public_key().to_hex())
    assert (got.transport, got.content, got.created_at) == (V1, "[2]", NOW)


@pytest.mark.parametrize("mode", [V1, V2])
def test_proof_of_work_is_mined_on_the_outer_event(mode):
    event = transport.wrap("[]", transport=mode, sender=SENDER,
                           recipient=RECEIVER.public_key().to_hex(), now=NOW, pow_bits=10)
    assert transport.pow_bits_of(event.id().to_hex()) >= 10
    assert any(t.to_vec()[0] == "nonce" and t.to_vec()[2] == "10" for t in event.tags())
    assert event.verify()


def test_pow_bits_counts_leading_zero_bits():
    assert transport.pow_bits_of("00" * 32) == 256
    assert transport.pow_bits_of("0f" + "ff" * 31) == 4
    assert transport.pow_bits_of("ff" * 32) == 0


def v2(content="[]", *, sender=SENDER, tags=None, created_at=NOW, raw_content=None):
    payload = raw_content if raw_content is not None else nip44_encrypt(
        sender.secret_key(), RECEIVER.public_key(), content, Nip44Version.V2)
    tags = tags if tags is not None else [["p", RECEIVER.public_key().to_hex()]]
    return (EventBuilder(Kind(14), payload).tags([Tag.parse(t) for t in tags])
            .custom_created_at(Timestamp.from_secs(created_at)).finalize(sender))


def test_refusals_name_their_reason():
    me = RECEIVER.public_key().to_hex()
    assert reason_of(v2(tags=[["p", me], ["p", me]])) == "multiple_p_tags"
    assert reason_of(v2(tags=[])) == "missing_p_tag"
    assert reason_of(v2(tags=[["p", SENDER.public_key().to_hex()]])) == "not_addressed_to_us"
    assert reason_of(v2(), expected_sender=Keys.generate().public_key().to_hex()) == \
        "wrong_sender"
    assert reason_of(v2(created_at=NOW + 61)) == "clock_skew"
    assert reason_of(v2(raw_content="A" * 90_000)) == "content_too_large"
    assert reason_of(v2(raw_content="not nip44")) == "decrypt_failed"
    # bad MAC: one ciphertext character changed, event re-signed so only the MAC can tell
    good = nip44_encrypt(SENDER.secret_key(), RECEIVER.public_key(), "[]", Nip44Version.V2)
    flipped = good[:40] + ("A" if good[40] != "A" else "B") + good[41:]
    assert reason_of(v2(raw_content=flipped)) == "decrypt_failed"
    # encrypted for someone else
    assert reason_of(v2(), keys=Keys.generate()) == "not_addressed_to_us"
    other_kind = (EventBuilder(Kind(4), "x").tags([Tag.parse(["p", me])]).finalize(SENDER))
    assert reason_of(other_kind) == "wrong_kind"


def test_a_tampered_event_fails_its_signature():
    event = json.loads(v2().as_json())
    event["created_at"] -= 1
    assert reason_of(json.dumps(event)) == "bad_signature"


def test_a_gift_wrap_for_someone_else_or_from_the_wrong_sender_is_refused():
    wrap = transport.wrap("[]", transport=V1, sender=SENDER,
                          recipient=RECEIVER.public_key().to_hex(), now=NOW)
    assert reason_of(wrap, expected_sender=Keys.generate().public_key().to_hex()) == "wrong_sender"
    stranger = Keys.generate()
    data = json.loads(transport.wrap("[]", transport=V1, sender=SENDER,
                                     recipient=stranger.public_key().to_hex(), now=NOW).as_json())
    assert reason_of(json.dumps(data)) == "not_addressed_to_us"


def test_a_nip17_dm_is_not_a_mostro_message():
    # A NIP-17 DM wraps a kind-14 rumor; Mostro messages ride in kind-1 rumors.
    dm = nip17_make_private_msg(SENDER, RECEIVER.public_key(), "hello")
    assert reason_of(dm) == "wrong_inner_kind"


def test_a_v1_rumor_from_the_future_is_clock_skew():
    wrap = transport.wrap("[]", transport=V1, sender=SENDER,
                          recipient=RECEIVER.public_key().to_hex(), now=NOW + 3600)
    assert reason_of(wrap) == "clock_skew"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300) | st.builds(
    lambda content, tags, kind: json.dumps({"id": "00" * 32, "pubkey": "11" * 32,
                                            "created_at": NOW, "kind": kind, "tags": tags,
                                            "content": content, "sig": "22" * 64}),
    st.text(max_size=50), st.lists(st.lists(st.text(max_size=70), max_size=3), max_size=3),
    st.sampled_from([14, 1059, 1, 65535])))
def test_opening_any_input_either_succeeds_or_is_rejected(raw):
    with contextlib.suppress(EventRejected):
        transport.open_event(raw, keys=RECEIVER, now=NOW)
