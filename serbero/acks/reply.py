"""The solver reply parser: `ack`, or `ack <dispute id prefix>`, case-insensitive, with
surrounding whitespace tolerated, is an acknowledgement; anything else is not. Pure and
total: it never raises and never reads more than `MAX_REPLY_CHARS` of a reply.

This is the whole grammar of what a solver may tell Serbero. There are no other commands: a
reply can acknowledge, and can never make Serbero act towards Mostro or the parties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The longest reply read at all: `ack` and a full dispute id with some spaces fit many times.
MAX_REPLY_CHARS = 200
#: A prefix shorter than this would match too many disputes to mean one.
MIN_PREFIX_CHARS = 4
_ACK = re.compile(r"ack(?:[ \t]+([0-9a-f][0-9a-f-]*))?")
_ID_CHARS = 36

#: Why a reply is not an acknowledgement (stored codes, counted and logged, never the text).
NOT_TEXT, TOO_LONG, NOT_AN_ACK, BAD_PREFIX = "not_text", "too_long", "not_an_ack", "bad_prefix"


@dataclass(frozen=True)
class Ack:
    """An acknowledgement; `prefix` is the dispute id prefix it names (lowercase), or None."""

    prefix: str | None = None


@dataclass(frozen=True)
class NotAck:
    reason: str


def parse(text: object) -> Ack | NotAck:
    """What a solver's reply says."""
    if not isinstance(text, str):
        return NotAck(NOT_TEXT)
    if len(text) > MAX_REPLY_CHARS:
        return NotAck(TOO_LONG)
    stripped = text.strip()
    # ASCII only: `.lower()` maps some non-ASCII letters (U+212A KELVIN SIGN) to ASCII ones.
    if not stripped.isascii():
        return NotAck(NOT_AN_ACK)
    found = _ACK.fullmatch(stripped.lower())
    if found is None:
        return NotAck(NOT_AN_ACK)
    prefix = found.group(1)
    if prefix is None:
        return Ack()
    if not (MIN_PREFIX_CHARS <= len(prefix) <= _ID_CHARS):
        return NotAck(BAD_PREFIX)
    return Ack(prefix)
