"""Mostro transports: wrapping a content tuple into the event a node reads, and opening the
events a node sends back. The versions themselves (kind 14 with NIP-44, the NIP-59 gift wrap)
live in `serbero.mostro.protocols`; this module does what every version shares: the size
limits, the signature check, the one `p` tag. Every refusal while opening is an EventRejected.
"""

from __future__ import annotations

from nostr_sdk import Event, Keys

from serbero.disputes.events import load_verified_event
from serbero.errors import EventRejected, ProtocolError
from serbero.mostro import protocols
from serbero.mostro.protocols import Opened
from serbero.mostro.protocols.common import pow_bits_of

#: NIP-44 carries at most 65535 plaintext bytes: about 87.4k base64 characters once encrypted.
MAX_CIPHERTEXT_CHARS = 87_500
#: Raw events larger than this are not read at all (a v1 wrap nests two ciphertexts).
MAX_EVENT_CHARS = 262_144

__all__ = ["MAX_CIPHERTEXT_CHARS", "MAX_EVENT_CHARS", "Opened", "open_event", "pow_bits_of",
           "wrap"]


def wrap(content: str, *, transport: str, sender: Keys, recipient: str, now: int,
         pow_bits: int = 0, expiration: int | None = None) -> Event:
    """A signed event carrying `content` from `sender` to `recipient` over `transport`."""
    try:
        version = protocols.get(transport)
    except KeyError:
        raise ProtocolError(f"unknown transport {transport!r}") from None
    return version.wrap(content, sender=sender, recipient=recipient, now=now,
                        pow_bits=pow_bits, expiration=expiration)


def _p_tag(event: Event, recipient: str) -> None:
    p_values = [t.to_vec() for t in event.tags() if t.kind() == "p"]
    if len(p_values) != 1:
        raise EventRejected("multiple_p_tags" if p_values else "missing_p_tag", str(len(p_values)))
    if len(p_values[0]) < 2 or p_values[0][1] != recipient:
        raise EventRejected("not_addressed_to_us", "p tag names another key")


def open_event(raw: str, *, keys: Keys, now: int, expected_sender: str | None = None) -> Opened:
    """Verify, check and decrypt a transport event of any known version sent to `keys`."""
    event = load_verified_event(raw, max_bytes=MAX_EVENT_CHARS)
    kind = event.kind().as_u16()
    version = protocols.by_kind(kind)
    if version is None:
        raise EventRejected("wrong_kind", str(kind))
    _p_tag(event, keys.public_key().to_hex())
    if len(event.content()) > MAX_CIPHERTEXT_CHARS:
        raise EventRejected("content_too_large", f"{len(event.content())} characters")
    return version.open_event(event, keys, now, expected_sender)
