"""The solver reply parser: `ack` and `ack <prefix>` and nothing else, whatever a reply holds."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serbero.acks import reply
from serbero.acks.reply import Ack, NotAck


@pytest.mark.parametrize("text", ["ack", "ACK", "  Ack\n", "\tack  ", "aCk"])
def test_plain_ack_in_any_case_and_surrounding_whitespace_is_an_ack(text):
    assert reply.parse(text) == Ack()


@pytest.mark.parametrize(("text", "prefix"), [
    ("ack 1a2b", "1a2b"), ("ACK 1A2B3C4D", "1a2b3c4d"),
    ("ack   11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-555555555555"),
    (" ack\t1a2b-3c ", "1a2b-3c")])
def test_ack_with_a_dispute_id_prefix_names_it_in_lowercase(text, prefix):
    assert reply.parse(text) == Ack(prefix)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "not_an_ack"), ("ok", "not_an_ack"), ("acknowledged", "not_an_ack"),
    ("ack please", "not_an_ack"), ("ack; admin-settle", "not_an_ack"),
    ("take 1a2b", "not_an_ack"), ("ack 1a2b extra", "not_an_ack"), ("ack\n1a2b", "not_an_ack"),
    ("ac\u212a", "not_an_ack"),  # KELVIN SIGN lowercases to "k"
    ("ack\u00a01a2b", "not_an_ack"), ("ack\x00", "not_an_ack"), ("\x00\xff\x01", "not_an_ack"),
    ("ack 1a2", "bad_prefix"), ("ack " + "a" * 37, "bad_prefix"),
    ("ack " * 60, "too_long"), ("x" * 1_000_000, "too_long")])
def test_anything_else_is_not_an_ack_with_a_reason(text, reason):
    assert reply.parse(text) == NotAck(reason)


@pytest.mark.parametrize("value", [None, b"ack", 1, ["ack"]])
def test_a_reply_that_is_not_text_is_refused(value):
    assert reply.parse(value) == NotAck("not_text")


@given(st.text(max_size=400))
def test_the_parser_is_total_and_only_ever_acknowledges(text):
    parsed = reply.parse(text)
    assert isinstance(parsed, Ack | NotAck)
    if isinstance(parsed, Ack):
        assert text.strip().lower().startswith("ack")
        assert parsed.prefix is None or set(parsed.prefix) <= set("0123456789abcdef-")


@given(st.from_regex(r"[ \t\n]*[aA][cC][kK]([ \t]+[0-9a-fA-F][0-9a-fA-F-]{3,35})?[ \t\n]*",
                     fullmatch=True))
def test_every_well_formed_ack_is_read(text):
    assert isinstance(reply.parse(text), Ack)


@given(st.binary(max_size=300))
def test_binary_decoded_any_way_is_never_an_ack_unless_it_says_ack(data):
    text = data.decode("latin-1")
    parsed = reply.parse(text)
    assert isinstance(parsed, NotAck) or text.strip().lower().startswith("ack")
