"""An outage is one warning, one line a minute while it lasts, one when it is over (issue 10,
operator item 4); the clock is the one thing faked."""

import logging

import redis

from serbero.outage import Outage, is_connection_error


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_long_outage_is_one_warning_one_line_a_minute_and_one_when_back(caplog):
    clock = Clock()
    outage = Outage("redis", logging.getLogger("serbero.test"), clock=clock)
    with caplog.at_level(logging.INFO, logger="serbero.test"):
        # Given Redis fails every call for two and a half minutes, ten calls a second
        opened = [outage.failed(redis.ConnectionError("refused")) for _ in range(3)]
        for _ in range(1500):
            clock.now += 0.1
            outage.failed(redis.ConnectionError("refused"))
        # When a call works again
        closed = outage.ok(), outage.ok()
    # Then the log tells the story in four lines, none with a traceback
    assert opened == [True, False, False] and closed == (True, False)
    assert caplog.messages == ["redis_unreachable", "redis_still_unreachable",
                               "redis_still_unreachable", "redis_back"]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in caplog.records)
    assert caplog.records[-1].down_for_s == 150.0 and caplog.records[-1].failures == 1503
    assert "ConnectionError: refused" in caplog.records[0].error


def test_calls_that_work_say_nothing(caplog):
    outage = Outage("redis", logging.getLogger("serbero.test"))
    with caplog.at_level(logging.INFO, logger="serbero.test"):
        assert [outage.ok() for _ in range(3)] == [False] * 3
    assert caplog.messages == [] and not outage.down


def test_only_connection_errors_are_outages():
    assert is_connection_error(redis.ConnectionError("x"))
    assert is_connection_error(redis.TimeoutError("x"))
    assert is_connection_error(ConnectionRefusedError())
    assert not is_connection_error(redis.ResponseError("WRONGTYPE"))
    assert not is_connection_error(ValueError("bad message"))
