"""The dispute event parser: valid revisions parse; everything else is refused with a reason."""

import contextlib
import json
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nostr_sdk import EventBuilder, Keys, Kind, Tag, Timestamp

from serbero.disputes.events import (
    MAX_EVENT_BYTES,
    STATUS_STAGE,
    parse_dispute_event,
)
from serbero.errors import EventRejected
from serbero.simulators.mostro_node import dispute_event

MOSTRO = Keys.generate()
PK = MOSTRO.public_key().to_hex()
NOW = int(time.time())
DID = "5b2f1c8e-9a4d-4e7b-8c1f-2d3e4f5a6b7c"


def signed(tags: list[list[str]], *, keys: Keys = MOSTRO, kind: int = 38386, content: str = "",
           created_at: int = NOW) -> str:
    return (EventBuilder(Kind(kind), content).tags([Tag.parse(t) for t in tags])
            .custom_created_at(Timestamp.from_secs(created_at)).finalize(keys).as_json())


def parse(raw: str):
    return parse_dispute_event(raw, mostro_pubkey=PK, now=NOW)


def rejected(raw, reason: str) -> EventRejected:
    with pytest.raises(EventRejected) as err:
        parse(raw)
    assert err.value.reason == reason, err.value
    return err.value


def test_a_mostrod_revision_parses():
    event = dispute_event(MOSTRO, DID, "initiated", initiator="seller", created_at=NOW,
                          opened_at=NOW - 30)
    parsed = parse(event.as_json())
    assert (parsed.dispute_id, parsed.status, parsed.initiator) == (DID, "initiated", "seller")
    assert parsed.opened_at == NOW - 30 and parsed.created_at == NOW
    assert parsed.event_id == event.id().to_hex() and parsed.author == PK
    assert parsed.solver is None and parsed.stage == 0 and not parsed.is_terminal


def test_the_older_created_at_tag_gives_the_open_time_too():
    event = dispute_event(MOSTRO, DID, "initiated", opened_at=NOW - 99, open_time_tag="created_at")
    assert parse(event.as_json()).opened_at == NOW - 99


def test_in_progress_carries_the_solver_from_p():
    solver = Keys.generate().public_key().to_hex()
    parsed = parse(dispute_event(MOSTRO, DID, "in-progress", solver=solver).as_json())
    assert parsed.solver == solver and parsed.stage == 1


def test_a_malformed_p_is_treated_as_unknown_solver():
    parsed = parse(dispute_event(MOSTRO, DID, "in-progress", solver="npub-ish").as_json())
    assert parsed.solver is None


@pytest.mark.parametrize("status", ["settled", "seller-refunded", "released",
                                    "cooperatively-canceled"])
def test_every_terminal_status_parses(status):
    parsed = parse(dispute_event(MOSTRO, DID, status).as_json())
    assert parsed.is_terminal and parsed.stage == 2


def test_initiator_unknown_is_tolerated_on_closing_revisions_only():
    assert parse(dispute_event(MOSTRO, DID, "settled", initiator="unknown").as_json()).initiator \
        is None
    rejected(dispute_event(MOSTRO, DID, "initiated", initiator="unknown").as_json(),
             "unknown_initiator")


@pytest.mark.parametrize(("tags", "reason"), [
    ([["s", "initiated"], ["initiator", "buyer"]], "missing_tag"),
    ([["d", DID], ["initiator", "buyer"]], "missing_tag"),
    ([["d", DID], ["s", "initiated"]], "missing_tag"),
    ([["d", DID], ["s", "reopened"], ["initiator", "buyer"]], "unknown_status"),
    ([["d", DID], ["s", "initiated"], ["initiator", "admin"]], "unknown_initiator"),
    ([["d", "not-a-uuid"], ["s", "initiated"], ["initiator", "buyer"]], "bad_dispute_id"),
    ([["d", "x" * 5000], ["s", "initiated"], ["initiator", "buyer"]], "oversized_tag"),
    ([["d", DID], ["s", "initiated"], ["initiator", "buyer"]] + [["t", str(i)] for i in range(40)],
     "too_many_tags"),
    ([["d", DID], ["s", "initiated"], ["initiator", "buyer"], ["x", *["v"] * 20]],
     "oversized_tag"),
])
def test_bad_tags_are_refused_with_a_reason(tags, reason):
    rejected(signed(tags), reason)


def test_a_dispute_id_with_a_trailing_newline_is_refused():
    # issue 10, defect 9: `re.match` with `$` accepted "<uuid>\n" as a 37-character id
    for bad in (DID + "\n", DID + "\r\n", "\n" + DID, DID + " "):
        rejected(signed([["d", bad], ["s", "initiated"], ["initiator", "buyer"]]),
                 "bad_dispute_id")


def test_a_solver_key_with_a_trailing_newline_is_not_a_solver():
    solver = "a" * 64
    parsed = parse(signed([["d", DID], ["s", "in-progress"], ["p", solver + "\n"]]))
    assert parsed.solver is None


def test_an_open_time_in_other_scripts_digits_is_absent_not_a_crash():
    # superscript and Arabic-Indic digits pass str.isdigit(); int() refuses the first
    for odd in ("\u00b2", "\u0661\u0662\u0663", "12\u00b2"):
        parsed = parse(signed([["d", DID], ["s", "initiated"], ["initiator", "buyer"],
                               ["published_at", odd]]))
        assert parsed.opened_at is None


def test_of_repeated_tags_the_first_counts():
    # PROTO-2 (issue 10): relays too take the first `d` of an addressable event
    first, second = "a" * 64, "b" * 64
    parsed = parse(signed([["d", DID], ["d", "not-a-uuid"], ["s", "in-progress"],
                           ["s", "settled"], ["p", first], ["p", second],
                           ["initiator", "seller"], ["initiator", "admin"]]))
    assert (parsed.dispute_id, parsed.status, parsed.solver, parsed.initiator) == \
        (DID, "in-progress", first, "seller")
    rejected(signed([["d", "not-a-uuid"], ["d", DID], ["s", "initiated"],
                     ["initiator", "buyer"]]), "bad_dispute_id")


@pytest.mark.parametrize("topic", [None, "dispute", "order", ""])
def test_the_z_tag_is_neither_required_nor_checked(topic):
    # DET-6 (issue 10): no check of `z`
    tags = [["d", DID], ["s", "initiated"], ["initiator", "buyer"]]
    if topic is not None:
        tags.append(["z", topic])
    assert parse(signed(tags)).dispute_id == DID


def test_wrong_kind_wrong_author_and_oversized_content_are_refused():
    good = [["d", DID], ["s", "initiated"], ["initiator", "buyer"]]
    rejected(signed(good, kind=38383), "wrong_kind")
    rejected(signed(good, keys=Keys.generate()), "wrong_author")
    rejected(signed(good, content="x" * 2000), "oversized_content")


def test_a_tampered_event_fails_verification():
    event = json.loads(dispute_event(MOSTRO, DID, "initiated").as_json())
    event["tags"][0][1] = str(uuid.uuid4())
    rejected(json.dumps(event), "bad_signature")
    event = json.loads(dispute_event(MOSTRO, DID, "initiated").as_json())
    event["sig"] = "00" * 64
    rejected(json.dumps(event), "bad_signature")


def test_a_revision_from_the_far_future_is_refused():
    rejected(dispute_event(MOSTRO, DID, "initiated", created_at=NOW + 86400).as_json(),
             "future_timestamp")


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", '{"kind": 38386}', "x" * 100,
                                 b"\xff\xfe", 42])
def test_garbage_is_malformed(raw):
    rejected(raw, "malformed_json")


def test_an_oversized_payload_is_refused_before_parsing():
    rejected("{" + " " * MAX_EVENT_BYTES + "}", "oversized")


# ------------------------------------------------------------------ hypothesis

tag_names = st.sampled_from(["d", "s", "initiator", "p", "z", "y", "published_at", "created_at",
                             "expiration", "S", "P", "", "e"])
tag_values = st.one_of(st.sampled_from([DID, "initiated", "in-progress", "settled", "buyer",
                                        "seller", "unknown", "dispute", "a" * 64, "123", "-1",
                                        str(NOW)]),
                       st.text(max_size=300))
tags = st.lists(st.lists(tag_values, min_size=0, max_size=10).flatmap(
    lambda values: tag_names.map(lambda name: [name, *values])), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tags=tags, content=st.text(max_size=1500), kind=st.sampled_from([38386, 38383, 1]),
       skew=st.integers(min_value=-10**6, max_value=10**6))
def test_any_signed_event_parses_or_is_refused_with_a_reason(tags, content, kind, skew):
    try:
        raw = signed(tags, kind=kind, content=content, created_at=max(0, NOW + skew))
    except Exception:  # nostr-sdk refuses to build some tags at all (e.g. empty names)
        return
    try:
        parsed = parse(raw)
    except EventRejected as err:
        assert err.reason
        return
    assert parsed.status in STATUS_STAGE and len(parsed.dispute_id) == 36


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_json_never_raises_anything_but_a_rejection(data):
    raw = dispute_event(MOSTRO, DID, "initiated").as_json()
    start = data.draw(st.integers(0, len(raw) - 1))
    end = data.draw(st.integers(start, len(raw)))
    mutated = raw[:start] + data.draw(st.text(max_size=20)) + raw[end:]
    with contextlib.suppress(EventRejected):
        parse(mutated)
