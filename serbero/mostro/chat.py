"""Dispute chat keys and the current (kind-14) chat envelope, as Mostro clients speak it.

Keys (protocol `chat.md`): `shared` = x coordinate of ECDH(secret, peer) with the peer's x-only
key lifted to even Y, unhashed; `K_conv` and `K_sign` = HKDF-SHA256(salt = none, IKM = shared,
info = "mostro:chat:conv:v1" / "mostro:chat:sign:v1"), retried with a counter byte appended
while the output is not a valid secret key. `pub(K_conv)` is the conversation address (`p` tag),
`pub(K_sign)` the author everyone filters on. Either side derives the same keys.

Envelope: an inner kind-1 event signed by the sender's own key, NIP-44-encrypted to itself under
K_conv, inside a kind-14 event signed by K_sign with exactly one `p` tag. Receiving is
`chat_receive`; this module only builds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

import coincurve
from nostr_sdk import (
    Event,
    EventBuilder,
    Filter,
    Keys,
    Kind,
    Nip44Version,
    PublicKey,
    Tag,
    Timestamp,
    nip44_encrypt,
)

from serbero.errors import ProtocolError
from serbero.mostro.messages import HEX64_RE

CONV_INFO = b"mostro:chat:conv:v1"
SIGN_INFO = b"mostro:chat:sign:v1"
CHAT_KIND = 14
INNER_KIND = 1
#: secp256k1 group order: a secret key must lie in [1, N).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: NIP-44 encrypts at most this many plaintext bytes; the inner event JSON must fit.
MAX_PLAINTEXT_BYTES = 65_535
#: Events per subscription page (mobile's `chatDefaultLimit`).
FETCH_LIMIT = 100


@dataclass(frozen=True)
class ChatKeys:
    """One conversation's keys, all hex. Secrets: never log, never store (re-derive)."""

    shared_x: str
    conv_secret: str
    conv_pubkey: str
    sign_secret: str
    sign_pubkey: str

    def __repr__(self) -> str:
        return f"ChatKeys(conv_pubkey={self.conv_pubkey!r}, sign_pubkey={self.sign_pubkey!r})"

    @property
    def conversation(self) -> str:
        """The conversation's stable name: pub(K_conv)."""
        return self.conv_pubkey

    def conv_keys(self) -> Keys:
        return Keys.parse(self.conv_secret)

    def sign_keys(self) -> Keys:
        return Keys.parse(self.sign_secret)


def _hex32(value: str, what: str) -> bytes:
    if not isinstance(value, str) or not HEX64_RE.fullmatch(value.lower()):
        raise ProtocolError(f"{what} must be 64 hex characters")
    return bytes.fromhex(value)


def ecdh_x(secret_hex: str, peer_pubkey_hex: str) -> bytes:
    """x(secret · lift_x(peer)), even-Y lift, unhashed: NIP-04/NIP-44's shared point."""
    secret = _hex32(secret_hex, "secret key")
    peer = _hex32(peer_pubkey_hex, "peer public key")
    try:
        point = coincurve.PublicKey(b"\x02" + peer)
        return point.multiply(secret).format(compressed=True)[1:]
    except ValueError as exc:
        raise ProtocolError(f"cannot derive a shared point: {exc}") from None


def hkdf_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 with an empty salt (which HKDF replaces by 32 zero bytes)."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def derive_secret(shared: bytes, info: bytes) -> bytes:
    """A valid secp256k1 secret from HKDF, appending 0x01, 0x02, … to `info` while the output
    is zero or not below the group order (astronomically rare, but specified)."""
    for attempt in range(256):
        label = info if attempt == 0 else info + bytes([attempt])
        candidate = hkdf_sha256(shared, label)
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_N:
            return candidate
    raise ProtocolError("no valid key in 255 HKDF retries")


def _pubkey(secret: bytes) -> str:
    return coincurve.PrivateKey(secret).public_key_xonly.format().hex()


def derive_chat_keys(secret_hex: str, peer_pubkey_hex: str) -> ChatKeys:
    """The conversation keys between the holder of `secret_hex` and `peer_pubkey_hex`."""
    shared = ecdh_x(secret_hex, peer_pubkey_hex)
    conv = derive_secret(shared, CONV_INFO)
    sign = derive_secret(shared, SIGN_INFO)
    return ChatKeys(shared.hex(), conv.hex(), _pubkey(conv), sign.hex(), _pubkey(sign))


def legacy_address(keys: ChatKeys) -> str:
    """pub(shared as a secret key): where legacy (2026-02 → 2026-07) kind-1059 chat was sent."""
    return _pubkey(bytes.fromhex(keys.shared_x))


def build_message(sender: Keys, keys: ChatKeys, text: str, *, now: int,
                  inner_tags: Iterable[list[str]] = ()) -> Event:
    """A signed kind-14 chat envelope carrying `text` from `sender` (Serbero's key, or a party's
    trade key) in the conversation `keys`; both layers carry the same timestamp."""
    return build_envelope(sender, keys, text, now=now, inner_tags=inner_tags)[1]


def build_envelope(sender: Keys, keys: ChatKeys, text: str, *, now: int,
                   inner_tags: Iterable[list[str]] = ()) -> tuple[Event, Event]:
    """`build_message`, also returning the signed inner event (a transcript records its id)."""
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError("refusing to send empty content")
    inner = (EventBuilder(Kind(INNER_KIND), text).tags([Tag.parse(t) for t in inner_tags])
             .custom_created_at(Timestamp.from_secs(now)).finalize(sender))
    plaintext = inner.as_json()
    if len(plaintext.encode("utf-8")) > MAX_PLAINTEXT_BYTES:
        raise ProtocolError("chat message too large for NIP-44 (65535 bytes)")
    ciphertext = nip44_encrypt(keys.conv_keys().secret_key(), PublicKey.parse(keys.conv_pubkey),
                               plaintext, Nip44Version.V2)
    outer = (EventBuilder(Kind(CHAT_KIND), ciphertext).tags([Tag.parse(["p", keys.conv_pubkey])])
             .custom_created_at(Timestamp.from_secs(now)).finalize(keys.sign_keys()))
    return inner, outer


def subscription_filter(keys: ChatKeys, since: int, *, limit: int = FETCH_LIMIT) -> Filter:
    """Kind 14 by author pub(K_sign), never by `#p`: anyone can flood a `p` tag."""
    return author_filter(keys.sign_pubkey, since, limit=limit)


def author_filter(sign_pubkey: str, since: int, *, limit: int = FETCH_LIMIT) -> Filter:
    """`subscription_filter` from a channel's stored pub(K_sign) alone."""
    return (Filter().kind(Kind(CHAT_KIND)).author(PublicKey.parse(sign_pubkey))
            .since(Timestamp.from_secs(since)).limit(limit))


def legacy_filter(keys: ChatKeys, since: int, *, limit: int = FETCH_LIMIT) -> Filter:
    return (Filter().kind(Kind(1059)).pubkey(PublicKey.parse(legacy_address(keys)))
            .since(Timestamp.from_secs(since)).limit(limit))
