"""The HTTP transport against a scripted server on loopback: retries (RP-4 plus back-off and
Retry-After), per-attempt deadlines (RP-3), body caps, redirects, truncation, categorised
errors, and the API key never surviving into an error."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest

from serbero.errors import ReasoningError
from serbero.reasoning.transport import Backoff, JsonPoster, parse_retry_after
from tests.reasoning.endpoint import API_KEY, Reply, json_reply

MB = 1 << 20


def poster(no_sleep: Backoff, *, attempts: int = 1, timeout_s: float = 2.0) -> JsonPoster:
    return JsonPoster(prefix="openai", timeout_s=timeout_s, attempts=attempts,
                      secrets=(API_KEY,), backoff=no_sleep)


def post(p: JsonPoster, url: str) -> object:
    return p.post(url + "/chat/completions", {"authorization": f"Bearer {API_KEY}"}, {"a": 1})


def failure(p: JsonPoster, url: str) -> ReasoningError:
    with pytest.raises(ReasoningError) as info:
        post(p, url)
    return info.value


def test_a_2xx_json_answer_is_returned_after_one_attempt(endpoint, no_sleep):
    endpoint.script(json_reply({"ok": True}))
    reply = post(poster(no_sleep, attempts=3), endpoint.url)
    assert reply.data == {"ok": True} and reply.attempts == 1
    assert endpoint.seen[0].headers["content-type"] == "application/json"


def test_429_with_retry_after_waits_as_asked_then_succeeds(endpoint, no_sleep, waits):
    # Given a rate limit that asks for 3 s, then an answer
    endpoint.script(json_reply({"error": "slow down"}, 429, headers={"retry-after": "3"}),
                    json_reply({"ok": 1}))
    # When the call is made with one retry allowed
    reply = post(poster(no_sleep, attempts=2), endpoint.url)
    # Then it waited the 3 s (longer than its own back-off) and got the answer
    assert waits == [3.0] and reply.attempts == 2 and len(endpoint.seen) == 2


def test_500_then_success_backs_off_with_jitter(endpoint, no_sleep, waits):
    endpoint.script(json_reply({}, 500), json_reply({"ok": 1}))
    assert post(poster(no_sleep, attempts=2), endpoint.url).attempts == 2
    # half the first 0.5 s step plus random 0.5 of the other half
    assert waits == [0.375]


def test_exhausted_retries_return_the_last_error_after_growing_waits(endpoint, no_sleep, waits):
    endpoint.script(*[json_reply({}, 503)] * 3)
    err = failure(poster(no_sleep, attempts=3), endpoint.url)
    assert err.category == "unreachable" and err.http_status == 503
    assert len(endpoint.seen) == 3 and waits == [0.375, 0.75]


def test_408_and_every_5xx_are_retried(endpoint, no_sleep):
    endpoint.script(json_reply({}, 408), json_reply({}, 502), json_reply({"ok": 1}))
    assert post(poster(no_sleep, attempts=3), endpoint.url).attempts == 3


def test_a_retry_after_beyond_the_cap_fails_now_instead_of_waiting(endpoint, no_sleep, waits):
    endpoint.script(json_reply({}, 429, headers={"retry-after": "600"}), json_reply({"ok": 1}))
    err = failure(poster(no_sleep, attempts=3), endpoint.url)
    assert err.category == "unreachable" and "Retry-After 600s" in str(err)
    assert waits == [] and len(endpoint.seen) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_fail_at_once_as_refused_with_the_status(endpoint, no_sleep, status):
    endpoint.script(Reply(status, b'{"error":{"message":"nope"}}'))
    err = failure(poster(no_sleep, attempts=4), endpoint.url)
    assert err.category == "refused" and f"http {status}" in str(err)
    assert "nope" in err.detail and "nope" not in str(err)  # body text only in detail
    assert len(endpoint.seen) == 1


def test_an_attempt_that_outlives_its_deadline_is_a_timeout_and_is_retried(endpoint, no_sleep):
    endpoint.script(json_reply({"ok": 1}, delay_s=0.6), json_reply({"ok": 1}, delay_s=0.6))
    started = time.monotonic()
    err = failure(poster(no_sleep, attempts=2, timeout_s=0.2), endpoint.url)
    assert err.category == "timeout" and len(endpoint.seen) == 2
    assert time.monotonic() - started < 1.0  # neither attempt waited for the slow answer


def test_a_declared_10_mb_body_is_refused_without_reading_it(endpoint, no_sleep):
    endpoint.script(Reply(200, b"x" * (10 * MB)))
    err = failure(poster(no_sleep, attempts=2), endpoint.url)
    assert err.category == "malformed_response" and "larger than" in str(err)
    assert len(endpoint.seen) == 1  # not retried: the provider answered, badly


def test_a_streamed_10_mb_body_without_length_is_cut_at_the_cap(endpoint, no_sleep):
    endpoint.script(Reply(200, stream_bytes=10 * MB))
    err = failure(poster(no_sleep), endpoint.url)
    assert err.category == "malformed_response" and str(1 * MB) in str(err)


def test_a_truncated_body_is_a_transport_error_and_is_retried(endpoint, no_sleep):
    body = b'{"choices": [{"message": {"content": "hello"}}]}'
    endpoint.script(Reply(200, body, truncate_to=12), Reply(200, body, truncate_to=12))
    err = failure(poster(no_sleep, attempts=2), endpoint.url)
    assert err.category == "unreachable" and len(endpoint.seen) == 2


def test_a_redirect_is_refused_and_not_followed(endpoint, endpoint_b, no_sleep):
    endpoint.script(Reply(307, headers={"location": endpoint_b.url + "/elsewhere"}))
    err = failure(poster(no_sleep, attempts=3), endpoint.url)
    assert err.category == "refused" and "redirect" in str(err)
    assert endpoint_b.seen == [] and len(endpoint.seen) == 1
    assert "/elsewhere" in err.detail


def test_a_2xx_body_that_is_not_json_is_malformed_and_not_retried(endpoint, no_sleep):
    endpoint.script(Reply(200, b"<html>gateway says hi</html>"))
    err = failure(poster(no_sleep, attempts=3), endpoint.url)
    assert err.category == "malformed_response" and len(endpoint.seen) == 1


def test_nothing_listening_is_unreachable(no_sleep):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = failure(poster(no_sleep), f"http://127.0.0.1:{port}")
    assert err.category == "unreachable"


def test_an_api_key_echoed_by_the_provider_never_survives_into_the_error(endpoint, no_sleep):
    # Given a proxy that echoes the key it was given, right at the excerpt's edge
    echo = b"x" * 190 + f'{{"error": "bad key {API_KEY}"}}'.encode()
    endpoint.script(Reply(401, echo))
    err = failure(poster(no_sleep), endpoint.url)
    for text in (str(err), err.detail, repr(err)):
        assert API_KEY not in text and API_KEY[:12] not in text


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    for unreadable in (None, "", "soon", "-3", "1.5e9x"):
        assert parse_retry_after(unreadable, now) is None


def test_backoff_doubles_up_to_its_cap():
    b = Backoff(base_s=0.5, cap_s=2.0, random=lambda: 1.0)
    assert [b.delay(n, None) for n in range(1, 6)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert b.delay(1, 40.0) is None  # beyond retry_after_max_s
