"""The node's info event: parsing, the `serbero` key check, the transport and PoW profile, and
recording only newer announcements."""

import contextlib
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_sdk import EventBuilder, Keys, Kind, Tag, Timestamp

from serbero.errors import EventRejected
from serbero.mostro import attachments, info
from serbero.mostro.protocols import V1, V2

NODE = Keys.generate()
NODE_PK = NODE.public_key().to_hex()
SERBERO_PK = Keys.generate().public_key().to_hex()


def info_event(tags, *, keys=NODE, d=NODE_PK, created_at=1_790_000_000):
    all_tags = [["d", d], *tags, ["z", "info"]]
    return (EventBuilder(Kind(38385), "").tags([Tag.parse(t) for t in all_tags])
            .custom_created_at(Timestamp.from_secs(created_at)).finalize(keys)).as_json()


def test_a_v2_node_announces_pow_and_its_serbero():
    parsed = info.parse_info_event(info_event([
        ["mostro_version", "0.19.2"], ["pow", "6"], ["pow_first_contact", "12"],
        ["protocol_version", "2"], ["bond_enabled", "true"], ["serbero", SERBERO_PK]]),
        node_pubkey=NODE_PK)
    assert (parsed.protocol_version, parsed.pow, parsed.pow_first_contact) == (2, 6, 12)
    assert parsed.transport == V2 and parsed.bond_enabled is True
    assert parsed.serbero_status(SERBERO_PK) == info.OURS
    assert parsed.mostro_version == "0.19.2"


def test_absent_tags_mean_v1_and_unknown_first_contact_pow():
    parsed = info.parse_info_event(info_event([["pow", "0"]]), node_pubkey=NODE_PK)
    assert parsed.protocol_version is None and parsed.transport == V1
    assert parsed.pow == 0 and parsed.pow_first_contact is None
    assert parsed.serbero_status(SERBERO_PK) == info.ABSENT


@pytest.mark.parametrize(("value", "status"), [
    (Keys.generate().public_key().to_hex(), info.FOREIGN),
    ("npub-not-really", info.MALFORMED),
], ids=["foreign-key", "malformed"])
def test_a_node_trusting_another_serbero_refuses_every_take(value, status):
    parsed = info.parse_info_event(info_event([["protocol_version", "2"], ["serbero", value]]),
                                   node_pubkey=NODE_PK)
    profile = info.resolve(parsed, serbero_pubkey=SERBERO_PK)
    assert profile.serbero_status == status
    assert not profile.can_take and profile.refusal == "foreign_serbero_key"


def test_the_serbero_tag_may_be_an_npub_of_our_key():
    npub = Keys.parse(Keys.generate().secret_key().to_hex())
    parsed = info.parse_info_event(info_event([["serbero", npub.public_key().to_bech32()]]),
                                   node_pubkey=NODE_PK)
    assert parsed.serbero_status(npub.public_key().to_hex()) == info.OURS


@pytest.mark.parametrize(("raw", "reason"), [
    (info_event([], keys=Keys.generate()), "wrong_author"),
    (info_event([], d="hall-of-fame"), "not_node_info"),   # another app on kind 38385
    (EventBuilder(Kind(38386), "").finalize(NODE).as_json(), "wrong_kind"),
    ("{}", "malformed_json"),
])
def test_events_that_are_not_this_nodes_info_are_rejected(raw, reason):
    with pytest.raises(EventRejected) as err:
        info.parse_info_event(raw, node_pubkey=NODE_PK)
    assert err.value.reason == reason


def test_garbage_numbers_count_as_unknown():
    parsed = info.parse_info_event(info_event([["pow", "lots"], ["pow_first_contact", "999"],
                                               ["protocol_version", "-2"]]), node_pubkey=NODE_PK)
    assert (parsed.pow, parsed.pow_first_contact, parsed.protocol_version) == (None, None, None)


def test_a_take_is_mined_to_the_first_contact_difficulty():
    parsed = info.parse_info_event(info_event([["pow", "6"], ["pow_first_contact", "12"],
                                               ["protocol_version", "2"]]), node_pubkey=NODE_PK)
    profile = info.resolve(parsed, serbero_pubkey=SERBERO_PK)
    assert (profile.transport, profile.pow_bits, profile.can_take) == (V2, 12, True)
    assert profile.transport_source == "announced"


def test_configuration_forces_transport_and_pow():
    parsed = info.parse_info_event(info_event([["pow", "6"], ["protocol_version", "2"]]),
                                   node_pubkey=NODE_PK)
    profile = info.resolve(parsed, serbero_pubkey=SERBERO_PK, transport=V1, pow_bits=3)
    assert (profile.transport, profile.pow_bits, profile.transport_source) == (V1, 3, "config")


def test_without_info_a_take_needs_a_configured_transport():
    assert info.resolve(None, serbero_pubkey=SERBERO_PK).refusal == "node_info_unknown"
    assert info.resolve(None, serbero_pubkey=SERBERO_PK, transport=V2).can_take


def test_an_excessive_pow_demand_is_refused():
    parsed = info.parse_info_event(info_event([["pow", "40"]]), node_pubkey=NODE_PK)
    assert info.resolve(parsed, serbero_pubkey=SERBERO_PK).refusal == "pow_too_high"
    assert info.resolve(parsed, serbero_pubkey=SERBERO_PK, max_pow_bits=40).can_take


def test_only_a_newer_info_event_replaces_the_stored_one(db):
    old = info.parse_info_event(info_event([["pow", "1"]], created_at=100), node_pubkey=NODE_PK)
    new = info.parse_info_event(info_event([["pow", "2"]], created_at=200), node_pubkey=NODE_PK)
    assert info.record(new, now=300)
    assert not info.record(old, now=301)
    assert info.load(NODE_PK).pow == 2
    assert info.load(Keys.generate().public_key().to_hex()) is None


def test_a_foreign_serbero_key_is_loud_each_time_it_is_seen(caplog):
    foreign = info.parse_info_event(info_event([["serbero", "ab" * 32]]), node_pubkey=NODE_PK)
    with caplog.at_level(logging.ERROR):
        assert info.warn_if_foreign(foreign, SERBERO_PK) == info.FOREIGN
        assert info.warn_if_foreign(foreign, SERBERO_PK) == info.FOREIGN
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "mostro_serbero_key_mismatch"] * 2
    ours = info.parse_info_event(info_event([["serbero", SERBERO_PK]]), node_pubkey=NODE_PK)
    caplog.clear()
    assert info.warn_if_foreign(ours, SERBERO_PK) == info.OURS
    assert caplog.records == []


def test_the_relay_list_is_read_from_r_tags():
    event = (EventBuilder(Kind(10002), "").tags([Tag.parse(["r", "wss://a.example"]),
                                                Tag.parse(["r", "wss://b.example", "read"]),
                                                Tag.parse(["r", "https://no"])])
             .finalize(NODE)).as_json()
    assert info.parse_relay_list(event, node_pubkey=NODE_PK) == ("wss://a.example",
                                                                 "wss://b.example")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.text(max_size=70), max_size=3), max_size=6),
       st.sampled_from([38385, 10002, 1]))
def test_any_announcement_is_parsed_or_rejected(tags, kind):
    event = (EventBuilder(Kind(kind), "").tags([Tag.parse(t) for t in tags if t])
             .finalize(NODE)).as_json()
    for parse in (info.parse_info_event, info.parse_relay_list):
        with contextlib.suppress(EventRejected):
            parse(event, node_pubkey=NODE_PK)


@given(st.text(max_size=200) | st.dictionaries(st.text(max_size=12), st.text(max_size=20)
                                                | st.integers(), max_size=8).map(json.dumps))
def test_any_chat_text_is_an_attachment_or_not_never_an_error(text):
    found = attachments.recognise(text)
    assert found is None or found.type in attachments.TYPES
