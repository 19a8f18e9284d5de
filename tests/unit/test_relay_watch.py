"""What the listener says about its relays (issue 10, operator item 1): one line per relay at
start and on each change, with the error; a low-rate warning while none is connected for more
than a minute. The clock is the one thing faked; the states are what nostr-sdk reports."""

import logging

from serbero.listener.relay_watch import RelayWatch

A, B = "ws://a.example", "ws://b.example"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def lines(caplog):
    return [(r.getMessage(), getattr(r, "relay", None), getattr(r, "error", None))
            for r in caplog.records]


def test_each_relay_is_one_line_at_start_and_on_every_change(caplog):
    watch = RelayWatch(clock=Clock())
    with caplog.at_level(logging.INFO, logger="serbero.listener"):
        watch.started({A: 1700000000, B: None}, {B: "Connection refused (os error 111)"})
        assert watch.observe({A: 1700000000, B: None}) == ([], [])  # nothing changed: silence
        back, down = watch.observe({A: None, B: 1700000100})
        watch.explain(A, "Connection refused (a.example:80)")
        reconnected, _ = watch.observe({A: None, B: 1700000200})  # B dropped and came back
    assert lines(caplog) == [
        ("relay_connected", A, None),
        ("relay_not_connected", B, "Connection refused (os error 111)"),
        ("relay_connected", B, None),
        ("relay_not_connected", A, "Connection refused (a.example:80)"),
        ("relay_connected", B, None)]
    assert (back, down, reconnected) == ([B], [A], [B])
    assert [s.connected for s in watch.states.values()] == [False, True]


def test_with_none_connected_a_warning_repeats_at_a_low_rate_until_one_is_back(caplog):
    clock = Clock()
    watch = RelayWatch(clock=clock)
    with caplog.at_level(logging.WARNING, logger="serbero.listener"):
        watch.started({A: None, B: None}, {A: "refused", B: "refused"})
        for _ in range(20 * 60 * 2):  # twenty minutes of polls, two a second
            clock.now += 0.5
            watch.observe({A: None, B: None})
        watch.observe({A: 1700000000, B: None})
    warnings = [m for m in caplog.messages if m == "no_relay_connected"]
    # first after a minute, then every five minutes: at 1, 6, 11 and 16 minutes
    assert len(warnings) == 4
    assert caplog.messages[-1] == "relays_back"
    assert caplog.records[-1].none_for_s == 1200
