"""Test helpers that build chat envelopes with one part wrong, the way a broken client or an
attacker would, so each check of the chat protocol can be seen refusing them."""

from __future__ import annotations

from nostr_sdk import (
    Event,
    EventBuilder,
    Keys,
    Kind,
    Nip44Version,
    PublicKey,
    Tag,
    Timestamp,
    nip44_encrypt,
)

from serbero.mostro.chat import ChatKeys


def inner_event(signer: Keys, text: str, *, at: int, kind: int = 1) -> Event:
    return (EventBuilder(Kind(kind), text).custom_created_at(Timestamp.from_secs(at))
            .finalize(signer))


def envelope(keys: ChatKeys, signer: Keys, text: str = "hello", *, at: int,
             inner_at: int | None = None, inner_kind: int = 1, plaintext: str | None = None,
             ciphertext: str | None = None, outer_signer: Keys | None = None,
             tags: list[list[str]] | None = None, outer_kind: int = 14) -> Event:
    """A kind-14 envelope of conversation `keys`, correct unless an argument says otherwise."""
    if plaintext is None:
        plaintext = inner_event(signer, text, at=inner_at if inner_at is not None else at,
                                kind=inner_kind).as_json()
    if ciphertext is None:
        ciphertext = nip44_encrypt(keys.conv_keys().secret_key(),
                                   PublicKey.parse(keys.conv_pubkey), plaintext, Nip44Version.V2)
    tags = tags if tags is not None else [["p", keys.conv_pubkey]]
    return (EventBuilder(Kind(outer_kind), ciphertext).tags([Tag.parse(t) for t in tags])
            .custom_created_at(Timestamp.from_secs(at))
            .finalize(outer_signer or keys.sign_keys()))
