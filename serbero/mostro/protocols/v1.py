"""Protocol v1: a NIP-59 gift wrap (rumor kind 1 → seal kind 13 → wrap kind 1059), with the
proof of work on the outer wrap. The wrap's author is a throwaway key, dated up to two days
back; the seal's signer is the sender. Deprecated by mostrod 0.19 but still spoken by older
nodes."""

from __future__ import annotations

import secrets

from nostr_sdk import (
    Event,
    EventBuilder,
    Filter,
    Keys,
    Kind,
    Nip44Version,
    NostrSdkError,
    PublicKey,
    Timestamp,
    UnwrappedGift,
    nip44_encrypt,
    nip59_make_seal,
)

from serbero.errors import EventRejected
from serbero.mostro.protocols import V1, Opened, ProtocolVersion
from serbero.mostro.protocols.common import mined, not_ahead, pow_bits_of, tags
from serbero.nostr.keys import public_key

KIND = 1059
RUMOR_KIND = 1
#: NIP-59: a gift wrap is dated up to two days back, so nobody can time the real message.
GIFT_WRAP_TWEAK_S = 2 * 86400
#: So replies need a longer look back than their own age.
LOOKBACK_S = 3 * 86400


def _wrap(content: str, sender: Keys, recipient: str, *, now: int, pow_bits: int,
          expiration: int | None) -> Event:
    receiver = public_key(recipient)
    rumor = (EventBuilder(Kind(RUMOR_KIND), content).custom_created_at(Timestamp.from_secs(now))
             .finalize_unsigned(sender.public_key()))
    seal = nip59_make_seal(sender, receiver, rumor)
    ephemeral = Keys.generate()
    ciphertext = nip44_encrypt(ephemeral.secret_key(), receiver, seal.as_json(), Nip44Version.V2)
    at = now - secrets.randbelow(GIFT_WRAP_TWEAK_S)
    unsigned = (EventBuilder(Kind(KIND), ciphertext).tags(tags(recipient, expiration))
                .custom_created_at(Timestamp.from_secs(at))
                .finalize_unsigned(ephemeral.public_key()))
    return mined(unsigned, pow_bits).sign(ephemeral)


def _open(event: Event, keys: Keys, now: int, expected_sender: str | None) -> Opened:
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
    not_ahead(created_at, now)
    event_id = event.id().to_hex()
    return Opened(V1, rumor.content(), sender, rumor.author().to_hex(), created_at, event_id,
                  pow_bits_of(event_id))


def _reply_filter(node: str, me: str, since: int) -> Filter:
    """Gift wraps to us: their author is a throwaway key, so only `#p` can select them."""
    return (Filter().kind(Kind(KIND)).pubkey(PublicKey.parse(me))
            .since(Timestamp.from_secs(max(0, since - LOOKBACK_S))))


VERSION = ProtocolVersion(name=V1, number=1, kind=KIND, wire="gift wrap",
                          tuple_size=2, author_is_sender=False, wrap_event=_wrap,
                          open_event=_open, reply_filter=_reply_filter)
