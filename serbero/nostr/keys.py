"""Key parsing and display: hex or bech32 in, hex out; nostr-sdk errors become ValueError."""

from __future__ import annotations

from functools import lru_cache

from nostr_sdk import Keys, NostrSdkError, PublicKey


def parse_public_key(text: str) -> str:
    """A public key given as 64 hex characters, npub1… or nostr:npub1…, as lowercase hex."""
    if not isinstance(text, str) or len(text) > 200:
        raise ValueError("not a public key")
    return _parsed_public_key(text.strip())


@lru_cache(maxsize=4096)
def _parsed_public_key(text: str) -> str:
    """Remembered: every notice asks again for each configured solver (a failure is not)."""
    try:
        return PublicKey.parse(text).to_hex()
    except (NostrSdkError, ValueError, TypeError) as exc:
        raise ValueError(f"invalid public key: {exc}") from None


@lru_cache(maxsize=4096)
def public_key(hex_pubkey: str) -> PublicKey:
    """The nostr-sdk key of a hex pubkey already checked, kept for the next message to it."""
    return PublicKey.parse(hex_pubkey)


def parse_secret_key(text: str) -> tuple[str, str]:
    """A secret key given as hex or nsec1…, as (secret hex, public hex). The error never
    repeats the input, so a mistyped secret cannot leak into logs."""
    if not isinstance(text, str) or len(text) > 200:
        raise ValueError("not a secret key")
    try:
        keys = Keys.parse(text.strip())
    except (NostrSdkError, ValueError, TypeError):
        raise ValueError("invalid secret key") from None
    return keys.secret_key().to_hex(), keys.public_key().to_hex()


def short(pubkey: str) -> str:
    """A pubkey shortened for logs and tables: enough to tell solvers apart, not to copy."""
    return f"{pubkey[:8]}…{pubkey[-4:]}" if len(pubkey) > 16 else pubkey
