"""Chat envelopes: what Serbero builds opens with nostr-sdk alone, and each of the thirteen checks
refuses what it should, with its own reason; attachments and legacy chat are recognised."""

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_sdk import Event, Keys, PublicKey, SecretKey, nip44_decrypt

from serbero.errors import EventRejected, ProtocolError
from serbero.mostro import chat
from serbero.mostro.chat_receive import ChatGuard, open_chat_event, open_legacy_event
from tests.mostro.craft import envelope

NOW = int(time.time())
SERBERO, PARTY = Keys.generate(), Keys.generate()
S_SIDE = chat.derive_chat_keys(SERBERO.secret_key().to_hex(), PARTY.public_key().to_hex())
P_SIDE = chat.derive_chat_keys(PARTY.secret_key().to_hex(), SERBERO.public_key().to_hex())
ALLOWED = {PARTY.public_key().to_hex(), SERBERO.public_key().to_hex()}


def open_(event, *, guard=None, seen=(), now=NOW, allowed=ALLOWED, keys=S_SIDE):
    raw = event if isinstance(event, str) else event.as_json()
    return open_chat_event(raw, keys, allowed_signers=allowed, now=now,
                           guard=guard or ChatGuard(), is_new_inner=lambda i: i not in seen)


def reason(event, **kwargs) -> str:
    with pytest.raises(EventRejected) as err:
        open_(event, **kwargs)
    return err.value.reason


def test_serbero_builds_what_the_party_opens_and_nostr_sdk_verifies():
    # Given Serbero writes to the party
    outer = chat.build_message(SERBERO, S_SIDE, "¿Recibiste el pago?", now=NOW)
    # Then the envelope is the current format
    assert outer.kind().as_u16() == 14 and outer.verify()
    assert outer.author().to_hex() == P_SIDE.sign_pubkey
    assert [t.to_vec() for t in outer.tags()] == [["p", P_SIDE.conv_pubkey]]
    # and nostr-sdk alone recovers a verified, Serbero-signed inner kind 1
    inner = Event.from_json(nip44_decrypt(SecretKey.parse(P_SIDE.conv_secret),
                                          PublicKey.parse(P_SIDE.conv_pubkey), outer.content()))
    assert inner.verify() and inner.kind().as_u16() == 1
    assert inner.author().to_hex() == SERBERO.public_key().to_hex()
    assert inner.created_at().as_secs() == outer.created_at().as_secs() == NOW
    # and the party's side of the checks accepts it
    message = open_(outer, keys=P_SIDE)
    assert (message.content, message.sender, message.inner_created_at) == (
        "¿Recibiste el pago?", SERBERO.public_key().to_hex(), NOW)
    assert message.outer_id == outer.id().to_hex() and message.attachment is None


def test_empty_or_oversized_text_is_not_sent():
    for text in ("", "   \n"):
        with pytest.raises(ProtocolError):
            chat.build_message(SERBERO, S_SIDE, text, now=NOW)
    with pytest.raises(ProtocolError):
        chat.build_message(SERBERO, S_SIDE, "x" * 70_000, now=NOW)


def test_accepts_inner_tags_like_mobiles_u_nonce():
    event = envelope(S_SIDE, PARTY, at=NOW)
    assert open_(event).sender == PARTY.public_key().to_hex()
    tagged = chat.build_message(PARTY, P_SIDE, "hola", now=NOW, inner_tags=[["u", "ab" * 8]])
    assert open_(tagged).content == "hola"


def test_check_1_wrong_author_and_wrong_kind():
    assert reason(envelope(S_SIDE, PARTY, at=NOW, outer_signer=Keys.generate())) == "wrong_author"
    assert reason(envelope(S_SIDE, PARTY, at=NOW, outer_kind=1059)) == "wrong_kind"


def test_check_2_exactly_one_p_tag_naming_the_conversation():
    conv = S_SIDE.conv_pubkey
    assert reason(envelope(S_SIDE, PARTY, at=NOW, tags=[["p", conv], ["p", conv]])) \
        == "multiple_p_tags"
    assert reason(envelope(S_SIDE, PARTY, at=NOW, tags=[["p", "ab" * 32]])) == "wrong_p_tag"
    assert reason(envelope(S_SIDE, PARTY, at=NOW, tags=[])) == "wrong_p_tag"
    # extra non-p tags are allowed
    assert open_(envelope(S_SIDE, PARTY, at=NOW, tags=[["p", conv], ["expiration", "9"]]))


def test_check_3_clock_skew_beyond_60_seconds():
    assert open_(envelope(S_SIDE, PARTY, at=NOW + 60))
    assert reason(envelope(S_SIDE, PARTY, at=NOW + 61)) == "clock_skew"


def test_check_4_content_over_64_kib():
    assert reason(envelope(S_SIDE, PARTY, at=NOW, ciphertext="A" * 65_537)) == "content_too_large"


def test_check_5_an_outer_id_already_handled_is_dropped():
    guard, event = ChatGuard(), envelope(S_SIDE, PARTY, at=NOW)
    open_(event, guard=guard)
    assert reason(event, guard=guard) == "duplicate_outer"


def test_check_6_a_conversation_over_its_budget_is_rate_limited():
    guard = ChatGuard(burst=2, per_s=1)
    for i in range(2):
        open_(envelope(S_SIDE, PARTY, f"m{i}", at=NOW), guard=guard)
    assert reason(envelope(S_SIDE, PARTY, "m3", at=NOW), guard=guard) == "rate_limited"
    assert open_(envelope(S_SIDE, PARTY, "m4", at=NOW), guard=guard, now=NOW + 1)


def test_check_7_outer_signature_and_id():
    data = json.loads(envelope(S_SIDE, PARTY, at=NOW).as_json())
    data["content"] = data["content"][:-4] + "AAAA"
    assert reason(json.dumps(data)) == "bad_signature"


def test_check_8_bad_nip44_mac():
    good = envelope(S_SIDE, PARTY, at=NOW).content()
    flipped = good[:50] + ("B" if good[50] == "A" else "A") + good[51:]
    assert reason(envelope(S_SIDE, PARTY, at=NOW, ciphertext=flipped)) == "decrypt_failed"
    assert reason(envelope(S_SIDE, PARTY, at=NOW, ciphertext="not base64!")) == "decrypt_failed"


def test_check_9_inner_event_must_parse_and_verify():
    assert reason(envelope(S_SIDE, PARTY, at=NOW, plaintext="just text")) == "malformed_inner"
    inner = json.loads(envelope(S_SIDE, PARTY, at=NOW).as_json())  # any signed event
    good_inner = json.loads(nip44_decrypt(SecretKey.parse(S_SIDE.conv_secret),
                                          PublicKey.parse(S_SIDE.conv_pubkey), inner["content"]))
    good_inner["content"] = "I never said that"
    assert reason(envelope(S_SIDE, PARTY, at=NOW, plaintext=json.dumps(good_inner))) \
        == "bad_inner_signature"


def test_check_10_a_wrong_signer_inner_event_is_refused():
    # the outer layer is valid (whoever holds K_sign), but the inner speaker is a stranger
    assert reason(envelope(S_SIDE, Keys.generate(), at=NOW)) == "unexpected_signer"
    # Serbero's channel with the buyer accepts the buyer (and its own echo), not the seller
    seller = Keys.generate()
    assert reason(envelope(S_SIDE, seller, at=NOW),
                  allowed={PARTY.public_key().to_hex()}) == "unexpected_signer"


def test_check_11_inner_kind_must_be_1():
    assert reason(envelope(S_SIDE, PARTY, at=NOW, inner_kind=14)) == "wrong_inner_kind"


def test_check_12_an_inner_id_already_ingested_is_a_duplicate():
    event = envelope(S_SIDE, PARTY, at=NOW)
    inner_id = open_(event).inner_id
    # the same inner event re-wrapped in a new envelope (a replay with a fresh outer id)
    plaintext = nip44_decrypt(SecretKey.parse(S_SIDE.conv_secret),
                              PublicKey.parse(S_SIDE.conv_pubkey), event.content())
    rewrapped = envelope(S_SIDE, PARTY, at=NOW + 1, plaintext=plaintext)
    assert reason(rewrapped, seen={inner_id}) == "duplicate_inner"


def test_check_13_inner_and_outer_times_within_60_seconds():
    assert open_(envelope(S_SIDE, PARTY, at=NOW, inner_at=NOW - 60))
    assert reason(envelope(S_SIDE, PARTY, at=NOW, inner_at=NOW - 61)) == "inner_time_mismatch"
    assert reason(envelope(S_SIDE, PARTY, at=NOW - 100, inner_at=NOW)) == "inner_time_mismatch"


def test_checks_run_in_protocol_order():
    # wrong author (1) wins over a second p tag (2), which wins over skew (3) and size (4)
    conv = S_SIDE.conv_pubkey
    assert reason(envelope(S_SIDE, PARTY, at=NOW + 999, outer_signer=Keys.generate(),
                           tags=[["p", conv], ["p", conv]])) == "wrong_author"
    assert reason(envelope(S_SIDE, PARTY, at=NOW + 999, tags=[["p", conv], ["p", conv]],
                           ciphertext="A" * 70_000)) == "multiple_p_tags"
    assert reason(envelope(S_SIDE, PARTY, at=NOW + 999, ciphertext="A" * 70_000)) == "clock_skew"
    # an unexpected signer (10) is reported before a duplicate (12) or a time mismatch (13)
    event = envelope(S_SIDE, Keys.generate(), at=NOW, inner_at=NOW - 999)
    assert reason(event, seen={"anything"}) == "unexpected_signer"


def test_attachments_are_recognised_not_treated_as_text():
    descriptor = {"type": "file_encrypted", "blossom_url": "https://blossom.example/abc",
                  "nonce": "00" * 12, "mime_type": "application/pdf", "original_size": 1234,
                  "filename": "extracto.pdf", "encrypted_size": 1250, "file_type": "document"}
    message = open_(envelope(S_SIDE, PARTY, json.dumps(descriptor), at=NOW))
    assert message.attachment is not None
    assert (message.attachment.type, message.attachment.filename,
            message.attachment.original_size) == ("file_encrypted", "extracto.pdf", 1234)
    # JSON that is not an attachment stays text
    assert open_(envelope(S_SIDE, PARTY, '{"type":"note"}', at=NOW)).attachment is None


def legacy(text, *, signer=PARTY, at=NOW):
    from nostr_sdk import EventBuilder, Kind, Nip44Version, Tag, Timestamp, nip44_encrypt

    inner = EventBuilder(Kind(1), text).custom_created_at(Timestamp.from_secs(at)).finalize(signer)
    address, ephemeral = chat.legacy_address(S_SIDE), Keys.generate()
    ciphertext = nip44_encrypt(ephemeral.secret_key(), PublicKey.parse(address), inner.as_json(),
                               Nip44Version.V2)
    return (EventBuilder(Kind(1059), ciphertext).tags([Tag.parse(["p", address])])
            .custom_created_at(Timestamp.from_secs(at - 50_000)).finalize(ephemeral))


def test_legacy_1059_chat_is_read():
    message = open_legacy_event(legacy("from an old client").as_json(), S_SIDE,
                                allowed_signers=ALLOWED, now=NOW, guard=ChatGuard(),
                                is_new_inner=lambda _: True)
    assert (message.content, message.legacy, message.sender) == (
        "from an old client", True, PARTY.public_key().to_hex())
    with pytest.raises(EventRejected) as err:
        open_legacy_event(legacy("impostor", signer=Keys.generate()).as_json(), S_SIDE,
                          allowed_signers=ALLOWED, now=NOW, guard=ChatGuard(),
                          is_new_inner=lambda _: True)
    assert err.value.reason == "unexpected_signer"


RAW_EVENTS = st.builds(
    lambda content, tags, kind, at: json.dumps({
        "id": "00" * 32, "pubkey": S_SIDE.sign_pubkey, "created_at": at, "kind": kind,
        "tags": tags, "content": content, "sig": "11" * 64}),
    st.text(max_size=80), st.lists(st.lists(st.text(max_size=70), max_size=3), max_size=3),
    st.sampled_from([14, 1, 1059]), st.integers(0, 2**33))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | RAW_EVENTS)
def test_any_input_either_opens_or_is_rejected(raw):
    for opener in (open_chat_event, open_legacy_event):
        with contextlib.suppress(EventRejected):
            opener(raw, S_SIDE, allowed_signers=ALLOWED, now=NOW, guard=ChatGuard(),
                   is_new_inner=lambda _: True)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_decrypted_plaintext_either_opens_or_is_rejected(plaintext):
    with contextlib.suppress(EventRejected):
        open_(envelope(S_SIDE, PARTY, at=NOW, plaintext=plaintext or " "))
