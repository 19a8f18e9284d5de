"""Protocol v2: kind 14 straight to the recipient, NIP-44 encrypted with the sender's own key
(`p` tag, optional NIP-40 `expiration`, NIP-13 proof of work on the event itself). The author is
the sender. The transport of mostrod 0.19 and of solver messages in today's clients."""

from __future__ import annotations

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
    nip44_decrypt,
    nip44_encrypt,
)

from serbero.errors import EventRejected
from serbero.mostro.protocols import V2, Opened, ProtocolVersion
from serbero.mostro.protocols.common import mined, not_ahead, pow_bits_of, tags
from serbero.nostr.keys import public_key

KIND = 14


def _wrap(content: str, sender: Keys, recipient: str, *, now: int, pow_bits: int,
          expiration: int | None) -> Event:
    ciphertext = nip44_encrypt(sender.secret_key(), public_key(recipient), content,
                               Nip44Version.V2)
    unsigned = (EventBuilder(Kind(KIND), ciphertext).tags(tags(recipient, expiration))
                .custom_created_at(Timestamp.from_secs(now))
                .finalize_unsigned(sender.public_key()))
    return mined(unsigned, pow_bits).sign(sender)


def _open(event: Event, keys: Keys, now: int, expected_sender: str | None) -> Opened:
    author = event.author().to_hex()
    if expected_sender is not None and author != expected_sender:
        raise EventRejected("wrong_sender", author)
    created_at = event.created_at().as_secs()
    not_ahead(created_at, now)
    try:
        content = nip44_decrypt(keys.secret_key(), event.author(), event.content())
    except NostrSdkError as exc:
        raise EventRejected("decrypt_failed", str(exc)[:80]) from None
    event_id = event.id().to_hex()
    return Opened(V2, content, author, author, created_at, event_id, pow_bits_of(event_id))


def _reply_filter(node: str, me: str, since: int) -> Filter:
    return (Filter().kind(Kind(KIND)).author(PublicKey.parse(node)).pubkey(PublicKey.parse(me))
            .since(Timestamp.from_secs(since)))


VERSION = ProtocolVersion(name=V2, number=2, kind=KIND, wire="kind 14, NIP-44", tuple_size=3,
                          author_is_sender=True, wrap_event=_wrap, open_event=_open,
                          reply_filter=_reply_filter)
