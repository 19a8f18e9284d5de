"""Pieces every transport shares: the `p` and `expiration` tags, NIP-13 mining, the skew check."""

from __future__ import annotations

from nostr_sdk import SingleThreadPow, Tag, Timestamp, UnsignedEvent

from serbero.errors import EventRejected
from serbero.mostro.protocols import MAX_CLOCK_SKEW_S


def mined(unsigned: UnsignedEvent, pow_bits: int) -> UnsignedEvent:
    """NIP-13: add a `nonce` tag until the id has `pow_bits` leading zero bits."""
    return unsigned.mine(SingleThreadPow(), pow_bits) if pow_bits > 0 else unsigned


def tags(recipient: str, expiration: int | None) -> list[Tag]:
    out = [Tag.parse(["p", recipient])]
    if expiration is not None:
        out.append(Tag.expiration(Timestamp.from_secs(expiration)))
    return out


def pow_bits_of(event_id_hex: str) -> int:
    """NIP-13 difficulty: the number of leading zero bits of an event id."""
    return 256 - int(event_id_hex, 16).bit_length()


def not_ahead(created_at: int, now: int) -> None:
    if created_at > now + MAX_CLOCK_SKEW_S:
        raise EventRejected("clock_skew", f"{created_at - now}s ahead")
