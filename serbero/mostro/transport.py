"""Mostro transports: wrapping a content tuple into the event a node reads, and opening the
events a node sends back. v2 is kind 14 with NIP-44 straight to the recipient (`p` tag, optional
NIP-40 `expiration`, NIP-13 proof of work); v1 is a NIP-59 gift wrap (rumor → seal → wrap) with
the proof of work on the outer wrap. Every refusal while opening is an EventRejected.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from nostr_sdk import (
    Event,
    EventBuilder,
    Keys,
    Kind,
    Nip44Version,
    NostrSdkError,
    PublicKey,
    SingleThreadPow,
    Tag,
    Timestamp,
    UnsignedEvent,
    UnwrappedGift,
    nip44_decrypt,
    nip44_encrypt,
    nip59_make_seal,
)

from serbero.disputes.events import load_verified_event
from serbero.errors import EventRejected, ProtocolError
from serbero.mostro.signing import V1, V2

V2_KIND = 14
V1_KIND = 1059
RUMOR_KIND = 1
#: NIP-59: a gift wrap is dated up to two days back, so nobody can time the real message.
GIFT_WRAP_TWEAK_S = 2 * 86400
#: A transport event dated further ahead than this is refused (mostro-core's chat skew).
MAX_CLOCK_SKEW_S = 60
#: NIP-44 carries at most 65535 plaintext bytes: about 87.4k base64 characters once encrypted.
MAX_CIPHERTEXT_CHARS = 87_500
#: Raw events larger than this are not read at all (a v1 wrap nests two ciphertexts).
MAX_EVENT_CHARS = 262_144


def _mined(unsigned: UnsignedEvent, pow_bits: int) -> UnsignedEvent:
    """NIP-13: add a `nonce` tag until the id has `pow_bits` leading zero bits."""
    return unsigned.mine(SingleThreadPow(), pow_bits) if pow_bits > 0 else unsigned


def _tags(recipient: str, expiration: int | None) -> list[Tag]:
    tags = [Tag.parse(["p", recipient])]
    if expiration is not None:
        tags.append(Tag.expiration(Timestamp.from_secs(expiration)))
    return tags


def wrap(content: str, *, transport: str, sender: Keys, recipient: str, now: int,
         pow_bits: int = 0, expiration: int | None = None) -> Event:
    """A signed event carrying `content` from `sender` to `recipient` over `transport`."""
    receiver = PublicKey.parse(recipient)
    if transport == V2:
        ciphertext = nip44_encrypt(sender.secret_key(), receiver, content, Nip44Version.V2)
        unsigned = (EventBuilder(Kind(V2_KIND), ciphertext).tags(_tags(recipient, expiration))
                    .custom_created_at(Timestamp.from_secs(now))
                    .finalize_unsigned(sender.public_key()))
        return _mined(unsigned, pow_bits).sign(sender)
    if transport == V1:
        rumor = (EventBuilder(Kind(RUMOR_KIND), content).custom_created_at(Timestamp.from_secs(now))
                 .finalize_unsigned(sender.public_key()))
        seal = nip59_make_seal(sender, receiver, rumor)
        ephemeral = Keys.generate()
        ciphertext = nip44_encrypt(ephemeral.secret_key(), receiver, seal.as_json(),
                                   Nip44Version.V2)
        at = now - secrets.randbelow(GIFT_WRAP_TWEAK_S)
        unsigned = (EventBuilder(Kind(V1_KIND), ciphertext).tags(_tags(recipient, expiration))
                    .custom_created_at(Timestamp.from_secs(at))
                    .finalize_unsigned(ephemeral.public_key()))
        return _mined(unsigned, pow_bits).sign(ephemeral)
    raise ProtocolError(f"unknown transport {transport!r}")


def pow_bits_of(event_id_hex: str) -> int:
    """NIP-13 difficulty: the number of leading zero bits of an event id."""
    value = int(event_id_hex, 16)
    return 256 - value.bit_length()


@dataclass(frozen=True)
class Opened:
    """A transport event addressed to us, decrypted.

    `sender` is who vouches for the message (the v2 author, the v1 seal signer); `author` is who
    a content-tuple signature must verify against (the v2 author, the v1 rumor author);
    `created_at` is the real send time (the v2 event, the v1 rumor)."""

    transport: str
    content: str
    sender: str
    author: str
    created_at: int
    event_id: str
    pow_bits: int


def _p_tag(event: Event, recipient: str) -> None:
    p_values = [t.to_vec() for t in event.tags() if t.kind() == "p"]
    if len(p_values) != 1:
        raise EventRejected("multiple_p_tags" if p_values else "missing_p_tag", str(len(p_values)))
    if len(p_values[0]) < 2 or p_values[0][1] != recipient:
        raise EventRejected("not_addressed_to_us", "p tag names another key")


def open_event(raw: str, *, keys: Keys, now: int, expected_sender: str | None = None) -> Opened:
    """Verify, check and decrypt a kind-14 or kind-1059 event sent to `keys`."""
    event = load_verified_event(raw, max_bytes=MAX_EVENT_CHARS)
    kind = event.kind().as_u16()
    if kind not in (V2_KIND, V1_KIND):
        raise EventRejected("wrong_kind", str(kind))
    me = keys.public_key().to_hex()
    _p_tag(event, me)
    if len(event.content()) > MAX_CIPHERTEXT_CHARS:
        raise EventRejected("content_too_large", f"{len(event.content())} characters")
    event_id = event.id().to_hex()
    if kind == V2_KIND:
        author = event.author().to_hex()
        if expected_sender is not None and author != expected_sender:
            raise EventRejected("wrong_sender", author)
        created_at = event.created_at().as_secs()
        if created_at > now + MAX_CLOCK_SKEW_S:
            raise EventRejected("clock_skew", f"{created_at - now}s ahead")
        try:
            content = nip44_decrypt(keys.secret_key(), event.author(), event.content())
        except NostrSdkError as exc:
            raise EventRejected("decrypt_failed", str(exc)[:80]) from None
        return Opened(V2, content, author, author, created_at, event_id, pow_bits_of(event_id))
    try:
        gift = UnwrappedGift.from_gift_wrap(keys, event)
    except NostrSdkError as exc:
        raise EventRejected("decrypt_failed", str(exc)[:80]) from None
    sender, rumor = gift.sender().to_hex(), gift.rumor()
    if expected_sender is not None and sender != expected_sender:
        raise EventRejected("wrong_sender", sender)
    if rumor.kind().as_u16() != RUMOR_KIND:
        raise EventRejected("wrong_inner_kind", str(rumor.kind().as_u16()))
    created_at = rumor.created_at().as_secs()
    if created_at > now + MAX_CLOCK_SKEW_S:
        raise EventRejected("clock_skew", f"{created_at - now}s ahead")
    return Opened(V1, rumor.content(), sender, rumor.author().to_hex(), created_at, event_id,
                  pow_bits_of(event_id))
