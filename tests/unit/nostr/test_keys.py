"""Public keys from configuration and events: hex or bech32 in, hex out, anything else a
ValueError, whatever its type; a key parsed once is remembered, a bad one never is."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nostr_sdk import Keys

from serbero.nostr.keys import parse_public_key, public_key

KEYS = Keys.generate()
HEX = KEYS.public_key().to_hex()


def test_hex_npub_and_nostr_uri_give_the_same_hex_every_time():
    npub = KEYS.public_key().to_bech32()
    for text in (HEX, HEX.upper(), npub, f"nostr:{npub}", f"  {HEX}\n"):
        assert parse_public_key(text) == HEX
        assert parse_public_key(text) == HEX  # the remembered answer is the same
    assert public_key(HEX).to_hex() == HEX


@given(st.one_of(st.text(max_size=300), st.integers(), st.none(), st.binary(max_size=40),
                 st.lists(st.text(max_size=5), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)))
def test_any_input_gives_a_hex_key_or_a_value_error_and_nothing_else(value):
    try:
        parsed = parse_public_key(value)
    except ValueError:
        return
    assert len(parsed) == 64 and parsed == parsed.lower() and int(parsed, 16) >= 0


def test_a_bad_key_is_refused_each_time_it_is_asked():
    for _ in range(2):
        with pytest.raises(ValueError, match="invalid public key"):
            parse_public_key("npub1notakey")
    with pytest.raises(ValueError, match="not a public key"):
        parse_public_key(["a", "list"])  # type: ignore[arg-type]
