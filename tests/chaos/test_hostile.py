"""Hostile load, short form of `bench/chaos.py --hostile` (issue 8, item 3): hypothesis-drawn
invalid events through the real listener and workers; no crash, no row changed, every rejection
counted by reason, and a valid dispute afterwards is notified at once."""

import time

import chaos
import hostile

#: The suite's count; the bench runs 10,000.
EVENTS = 500
#: The bench holds the latency target (500 ms); the suite, on a shared machine, a looser one.
LATENCY_S = 3.0


def test_hostile_events_change_nothing_crash_nothing_and_are_counted(nostr_loop, redis_server):
    lines = []
    result = nostr_loop.run(hostile.run(EVENTS, chaos.Options(disputes=1, threads=4),
                                        lines.append), 240)
    assert result["processes_alive"] and result["drained"], (result, lines)
    assert result["error_lines"] == [], result
    assert result["changed_tables"] == {}, result
    assert result["rejections_total"] >= result["must_be_counted"], result
    assert {"malformed_json", "bad_signature", "missing_tag", "mostro_decrypt_failed"} <= set(
        result["rejections"]), result
    assert result["valid_dispute_latency_s"] < LATENCY_S, result


def dispute_reasons(count: int) -> tuple[set[str], list[tuple[str, str]]]:
    """Draw `count` hostile events; the routes drawn, and each dispute event's rejection
    reason ("valid" for one the parser accepts) with the event."""
    from nostr_sdk import Keys

    from serbero.disputes.events import parse_dispute_event
    from serbero.errors import EventRejected

    mostro = Keys.generate()
    cases = hostile.generate(count, mostro, Keys.generate().public_key().to_hex())
    reasons = []
    for route, raw in cases:
        if route == "dispute":
            try:
                parse_dispute_event(raw, mostro_pubkey=mostro.public_key().to_hex(),
                                    now=int(time.time()))
                reasons.append(("valid", raw))
            except EventRejected as rejected:
                reasons.append((rejected.reason, raw))
    return {route for route, _ in cases}, reasons


def test_every_drawn_event_is_invalid_and_every_route_is_drawn():
    routes, reasons = dispute_reasons(300)
    assert routes == set(hostile.ACTORS)
    valid = [raw for reason, raw in reasons if reason == "valid"]
    assert not valid, f"a valid dispute event was drawn: {valid[0][:300]}"


def test_every_flaw_is_drawn_however_few_events_are_asked_for():
    """The load opens with one event of every route and every dispute flaw, so each reason the
    test above asserts on is drawn whatever the seed (a run once counted no bad signature)."""
    routes, reasons = dispute_reasons(len(hostile.ACTORS) - 1 + len(hostile.DISPUTE_FLAWS))
    assert routes == set(hostile.ACTORS)
    assert {"missing_tag", "bad_dispute_id", "unknown_status", "unknown_initiator",
            "oversized_tag", "too_many_tags", "oversized_content", "future_timestamp",
            "wrong_kind", "wrong_author", "bad_signature"} <= {reason for reason, _ in reasons}
