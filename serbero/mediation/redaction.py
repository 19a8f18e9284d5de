"""Redaction of Nostr identifiers in party text before any of it leaves the host: hex keys and
ids (runs of 64 or more hex digits) and bech32 entities (`npub1…`, `nsec1…`, `note1…`,
`nprofile1…`, `nevent1…`, `naddr1…`, `nrelay1…`, with or without `nostr:`), found whatever
their case or the text around them, and long runs of the bech32 alphabet that are such an
entity without its prefix. Checksums are not verified: a mistyped key is still a key.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

#: bech32's data alphabet (no 1, b, i, o); 8 characters already identify a key prefix, so a
#: truncated paste is redacted too.
_BECH32 = r"(?:nostr:)?(?:npub|nsec|note|nprofile|nevent|naddr|nrelay)1[02-9ac-hj-np-z]{8,}"
_HEX = r"[0-9a-f]{64,}"
#: A bech32 data part without its prefix (or glued to another entity): no word is 40
#: characters of this alphabet, which lacks b, i, o and 1.
_BECH32_DATA = r"[02-9ac-hj-np-z]{40,}"
_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in (_BECH32, _HEX, _BECH32_DATA))


def _spans(text: str) -> list[tuple[int, int]]:
    """Every pattern's matches, merged: identifiers pasted back to back are one span, so no
    part of one survives another's match."""
    spans = sorted(m.span() for p in _PATTERNS for m in p.finditer(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact(text: str) -> str:
    """`text` with every Nostr identifier replaced by `[redacted]`."""
    out, last = [], 0
    for start, end in _spans(text):
        out += [text[last:start], REDACTED]
        last = end
    return "".join(out) + text[last:]


def contains_identifier(text: str) -> bool:
    """True when `text` holds something `redact` would replace."""
    return any(p.search(text) for p in _PATTERNS)
