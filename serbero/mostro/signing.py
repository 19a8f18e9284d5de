"""Message signatures and the content tuple: BIP-340 Schnorr over SHA-256 of a message's JSON,
the v2 identity proof, and the `[msg, sig|null]` (v1) / `[msg, sig|null, identity|null]` (v2)
tuples that travel inside a transport event.

Serbero uses one key for everything, so it sends `[msg, null]` / `[msg, null, null]` by default
(a solver needs no proof, and that avoids any serialisation-exactness risk); a signature that
is present must verify, on both sides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import coincurve
from nostr_sdk import Keys

from serbero.errors import EventRejected, ProtocolError
from serbero.mostro import protocols
from serbero.mostro.messages import HEX64_RE, MostroMessage, dumps, loads, parse_message

#: What the v2 identity key signs, before `<event pubkey hex>:<message JSON>`.
IDENTITY_PROOF_PREFIX = "mostro-transport-v2-identity:"
_SIG_LEN = 128


def sign_text(text: str, keys: Keys) -> str:
    """`Message::sign`: Schnorr over SHA-256 of the UTF-8 text, as 128 hex characters."""
    return keys.sign_schnorr(hashlib.sha256(text.encode("utf-8")).digest())


def verify_text(text: str, signature_hex: Any, pubkey_hex: Any) -> bool:
    """True when `signature_hex` is `pubkey_hex`'s signature of SHA-256(text); never raises."""
    if not (isinstance(signature_hex, str) and len(signature_hex) == _SIG_LEN
            and isinstance(pubkey_hex, str) and HEX64_RE.fullmatch(pubkey_hex)):
        return False
    try:
        key = coincurve.PublicKeyXOnly(bytes.fromhex(pubkey_hex))
        return key.verify(bytes.fromhex(signature_hex),
                          hashlib.sha256(text.encode("utf-8")).digest())
    except (ValueError, TypeError):
        return False


def identity_text(event_pubkey: str, message_json: str) -> str:
    return f"{IDENTITY_PROOF_PREFIX}{event_pubkey}:{message_json}"


@dataclass(frozen=True)
class Content:
    """A decoded content tuple. `identity` is the key that speaks for the message: the proven
    identity when there is one, otherwise the transport's author."""

    message: MostroMessage
    signed: bool
    identity: str


def _tuple_size(transport: str) -> int:
    try:
        return protocols.get(transport).tuple_size
    except KeyError:
        raise ProtocolError(f"unknown transport {transport!r}") from None


def encode(msg: MostroMessage, *, transport: str, signer: Keys | None = None,
           identity: Keys | None = None) -> str:
    """The content tuple for `msg`. `signer` adds the trade signature; `identity` (v2 only)
    adds an identity proof, which is needed only when identity and author differ."""
    size = _tuple_size(transport)
    message_json = msg.to_json()
    sig = sign_text(message_json, signer) if signer is not None else None
    if size == 2:
        if identity is not None:
            raise ProtocolError(f"{transport} proves identity with the seal, not in the content")
        return dumps([msg.to_obj(), sig])
    proof = None
    if identity is not None:
        if signer is None:
            raise ProtocolError("an identity proof names the event author: pass signer too")
        author = signer.public_key().to_hex()
        proof = [identity.public_key().to_hex(),
                 sign_text(identity_text(author, message_json), identity)]
    return dumps([msg.to_obj(), sig, proof])


def decode(text: str, *, transport: str, author: str) -> Content:
    """Parse a content tuple from an event authored (v2) or rumor-authored (v1) by `author`."""
    value = loads(text)
    size = _tuple_size(transport)
    if not isinstance(value, list) or len(value) != size:
        raise EventRejected("bad_content_tuple", f"expected a {size}-element array")
    message = parse_message(value[0])
    message_json = message.to_json()
    sig = value[1]
    if sig is not None and not verify_text(message_json, sig, author):
        raise EventRejected("bad_message_signature", "trade signature does not verify")
    identity = author
    if size == 3 and value[2] is not None:
        proof = value[2]
        if not (isinstance(proof, list) and len(proof) == 2 and all(
                isinstance(p, str) for p in proof)):
            raise EventRejected("bad_content_tuple", "identity must be [pubkey, signature]")
        if not verify_text(identity_text(author, message_json), proof[1], proof[0]):
            raise EventRejected("bad_identity_proof", "identity proof does not verify")
        identity = proof[0]
    return Content(message, sig is not None, identity)
