"""The seen-filter's marker: a Redis that lost its data is noticed, and the marks written since
do not hide events whose jobs it lost (issue 8, bench/chaos.py scenario b)."""

import redis

from serbero.dedup import LocalSeen, RedisSeen


def test_a_flush_is_noticed_once_and_drops_the_marks_written_after_it(private_redis):
    client = redis.Redis.from_url(private_redis.url)
    seen = RedisSeen(client, "ns")
    # Given a filter that has set its marker (the first call only does that)
    assert seen.forgot() is False
    assert seen.forgot() is False
    # When Redis is flushed between an event's enqueue and its mark
    client.flushall()
    seen.mark("enqueued-before-the-flush")
    # Then the loss is noticed once, and the mark no longer hides the event from a re-read
    assert seen.forgot() is True
    assert not seen.seen("enqueued-before-the-flush")
    assert seen.forgot() is False
    seen.mark("after")
    assert seen.seen("after")


def test_a_local_filter_never_reports_a_loss():
    assert LocalSeen().forgot() is False
