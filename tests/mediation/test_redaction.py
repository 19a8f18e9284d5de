"""Redaction of Nostr identifiers in party text (issue 7 item 4): generated keys and entities
inside arbitrary text never survive; text without identifiers is unchanged."""

from __future__ import annotations

import secrets

from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_sdk import EventId, Keys, Nip19Event, Nip19Profile, RelayUrl

from serbero.mediation.redaction import REDACTED, contains_identifier, redact


def _identifiers() -> list[str]:
    keys = Keys.generate()
    event_id = EventId.parse(secrets.token_hex(32))
    return [keys.public_key().to_bech32(), keys.secret_key().to_bech32(),
            keys.public_key().to_hex(), keys.secret_key().to_hex(), event_id.to_bech32(),
            event_id.to_hex(), Nip19Profile(keys.public_key(), [RelayUrl.parse("wss://r.example")]).to_bech32(),
            Nip19Event(event_id).to_bech32()]


IDENTIFIERS = _identifiers()
SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda t: not contains_identifier(t))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(SAFE_TEXT, st.sampled_from(IDENTIFIERS),
                          st.sampled_from(["", "nostr:"]), st.booleans()),
                min_size=1, max_size=4), SAFE_TEXT)
def test_identifiers_in_any_text_are_replaced(parts, tail):
    text = "".join(before + prefix + (ident.upper() if shout else ident)
                   for before, ident, prefix, shout in parts) + tail
    out = redact(text)
    for _, ident, _, _ in parts:
        assert ident.lower() not in out.lower()
        assert ident[-20:].lower() not in out.lower()
    assert REDACTED in out and not contains_identifier(out)


@settings(max_examples=200, deadline=None)
@given(SAFE_TEXT)
def test_text_without_identifiers_is_unchanged(text):
    assert redact(text) == text


def test_a_truncated_npub_and_a_txid_like_hex_are_redacted_too():
    assert redact("my key npub1f70xglksk…") == "my key [redacted]…"
    assert redact(f"tx {'9' * 64}, ok") == "tx [redacted], ok"


def test_ordinary_words_that_start_like_entities_survive():
    text = "Please note 1 thing: my notebook, npub and nsec are words here. Ref 0xDEADBEEF."
    assert redact(text) == text
