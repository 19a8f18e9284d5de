"""Redaction of Nostr identifiers in party text before any of it leaves the host: hex keys and
ids (runs of 64 or more hex digits) and bech32 entities (`npub1…`, `nsec1…`, `note1…`,
`nprofile1…`, `nevent1…`, `naddr1…`, `nrelay1…`, with or without `nostr:`), found whatever
their case or the text around them. Checksums are not verified: a mistyped key is still a key.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

#: bech32's data alphabet (no 1, b, i, o); 8 characters already identify a key prefix, so a
#: truncated paste is redacted too.
_BECH32 = r"(?:nostr:)?(?:npub|nsec|note|nprofile|nevent|naddr|nrelay)1[02-9ac-hj-np-z]{8,}"
_HEX = r"[0-9a-f]{64,}"
_IDENTIFIER = re.compile(f"{_BECH32}|{_HEX}", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every Nostr identifier replaced by `[redacted]`."""
    return _IDENTIFIER.sub(REDACTED, text)


def contains_identifier(text: str) -> bool:
    """True when `text` holds something `redact` would replace."""
    return _IDENTIFIER.search(text) is not None
