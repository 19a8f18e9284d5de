"""The faster byte copy into nostr-sdk's bindings gives the same bytes as the original loop."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_sdk import (
    Event,
    EventBuilder,
    Keys,
    Kind,
    Nip44Version,
    Tag,
    UnwrappedGift,
    nip17_make_private_msg,
    nip44_decrypt,
    nip44_encrypt,
)

from serbero.nostr import bindings

ALICE, BOB = Keys.generate(), Keys.generate()
bindings.apply()


def test_it_is_applied_to_the_pinned_release():
    assert bindings.apply() and bindings.apply()  # idempotent


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=5000), st.lists(st.text(max_size=300), max_size=4))
def test_events_survive_a_round_trip_through_rust(content, values):
    event = (EventBuilder(Kind(1), content).tags([Tag.parse(["t", *values])] if values else [])
             .finalize(ALICE))
    again = Event.from_json(event.as_json())
    assert again.verify() and again.content() == content
    assert json.loads(again.as_json()) == json.loads(event.as_json())


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=20000))
def test_nip44_and_gift_wraps_are_unchanged(text):
    sealed = nip44_encrypt(ALICE.secret_key(), BOB.public_key(), text, Nip44Version.V2)
    assert nip44_decrypt(BOB.secret_key(), ALICE.public_key(), sealed) == text
    gift = UnwrappedGift.from_gift_wrap(BOB, nip17_make_private_msg(ALICE, BOB.public_key(), text))
    assert gift.rumor().content() == text and gift.sender() == ALICE.public_key()


def test_large_multibyte_payloads_and_empty_ones():
    for content in ("", "ñ" * 70_000, "\x00\U0001f600" * 1000):
        assert Event.from_json(EventBuilder(Kind(1), content).finalize(ALICE).as_json()) \
            .content() == content
