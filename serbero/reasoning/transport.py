"""One model request over HTTP: a JSON POST with a deadline per attempt, a capped response body,
redirects refused, and retries with exponential back-off and jitter that honour Retry-After.

Every httpx error becomes a ReasoningError here. Bodies are never logged; an error's `detail`
holds the first bytes of the provider's answer with the API key scrubbed out.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from serbero.errors import ReasoningError
from serbero.reasoning.limits import RETRY_AFTER_MAX_S
from serbero.reasoning.types import Completion

if TYPE_CHECKING:  # imported when a poster is built: a daemon without mediation never loads it
    import httpx

log = logging.getLogger(__name__)

UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
MALFORMED = "malformed_response"
REFUSED = "refused"

#: A classification answer is a few kilobytes; a body past this cap is not one, and is not
#: read further (a 10 MB body costs at most this much memory).
MAX_RESPONSE_BYTES = 1 << 20
#: First back-off, doubled per retry up to the cap (seconds).
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
#: RP-4: how much of an error body is kept for the operator.
EXCERPT_BYTES = 200
#: HTTP statuses worth another attempt (RP-4): request timeout, rate limit, any 5xx.
RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts; tests inject `sleep` and `random` so nothing sleeps for real."""

    base_s: float = BACKOFF_BASE_S
    cap_s: float = BACKOFF_CAP_S
    retry_after_max_s: float = RETRY_AFTER_MAX_S
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random

    def delay(self, retry: int, retry_after_s: float | None) -> float | None:
        """Seconds before retry number `retry` (1-based): half the exponential step plus a
        random half, or Retry-After when longer; None when Retry-After asks too much."""
        if retry_after_s is not None and retry_after_s > self.retry_after_max_s:
            return None
        step = min(self.cap_s, self.base_s * 2 ** (retry - 1))
        jittered = step / 2 + self.random() * step / 2
        return max(jittered, retry_after_s or 0.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def token_count(usage: Any, key: str) -> int | None:
    """A token count from a reply's `usage` object, or None when absent or not an integer."""
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Reply:
    """A 2xx answer: its JSON document, how many attempts it took, the last one's latency."""

    data: Any = field(repr=False)
    status: int
    attempts: int
    latency_ms: int


class JsonPoster:
    """POSTs JSON to one provider. Thread-safe: one pooled httpx client per provider."""

    def __init__(self, *, prefix: str, timeout_s: float, attempts: int, secrets: tuple[str, ...],
                 backoff: Backoff | None = None, max_body_bytes: int = MAX_RESPONSE_BYTES,
                 client: httpx.Client | None = None) -> None:
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.secrets = tuple(s for s in secrets if s)
        self.backoff = backoff or Backoff()
        self.max_body_bytes = max_body_bytes
        import httpx

        self.client = client or httpx.Client(follow_redirects=False,
                                             timeout=httpx.Timeout(timeout_s))

    def close(self) -> None:
        self.client.close()

    def post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        """The parsed JSON of a 2xx answer, after at most `attempts` tries; else ReasoningError
        (the last retryable one, or the first that retrying cannot fix) with its attempts."""
        content = json.dumps(body, ensure_ascii=False).encode()
        headers = {**headers, "content-type": "application/json"}
        tried = [0]
        try:
            return self._post(url, headers, content, tried)
        except ReasoningError as exc:
            exc.attempts = tried[0]
            raise

    def _post(self, url: str, headers: dict[str, str], content: bytes,
              tried: list[int]) -> Reply:
        for attempt in range(1, self.attempts + 1):
            tried[0] = attempt
            started = time.monotonic()
            retry_after: float | None = None
            try:
                status, reply_headers, raw = self._attempt(url, headers, content)
            except ReasoningError as exc:
                if exc.category not in (TIMEOUT, UNREACHABLE) or attempt == self.attempts:
                    raise
                error = exc
            else:
                latency_ms = int((time.monotonic() - started) * 1000)
                if 200 <= status < 300:
                    return Reply(self._json(raw, status), status, attempt, latency_ms)
                retry_after_header = reply_headers.get("retry-after")
                error = self._status_error(status, raw, retry_after_header)
                if not (status in RETRY_STATUSES or status >= 500) or attempt == self.attempts:
                    raise error
                retry_after = parse_retry_after(retry_after_header)
            wait = self.backoff.delay(attempt, retry_after)
            if wait is None:
                raise ReasoningError(error.category, f"{error} — Retry-After {retry_after:.0f}s "
                                     f"is longer than the {self.backoff.retry_after_max_s:.0f}s "
                                     "a call may wait", detail=error.detail,
                                     http_status=error.http_status)
            log.debug("reasoning_http_retry", extra={"provider": self.prefix, "attempt": attempt,
                                                     "category": error.category,
                                                     "wait_s": round(wait, 3)})
            self.backoff.sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")

    def _attempt(self, url: str, headers: dict[str, str],
                 content: bytes) -> tuple[int, httpx.Headers, bytes]:
        import httpx

        deadline = time.monotonic() + self.timeout_s
        try:
            with self.client.stream("POST", url, headers=headers, content=content) as resp:
                if resp.is_redirect:
                    raise ReasoningError(
                        REFUSED, f"{self.prefix} http {resp.status_code}: redirects are refused; "
                        "set api_base to the URL the provider redirects to",
                        detail=self.scrub(resp.headers.get("location", "")),
                        http_status=resp.status_code)
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_body_bytes:
                    raise self._too_large(resp.status_code)
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise self._too_large(resp.status_code)
                    if time.monotonic() > deadline:
                        raise ReasoningError(TIMEOUT, f"{self.prefix}: no complete answer within "
                                             f"{self.timeout_s:g}s")
                    chunks.append(chunk)
                return resp.status_code, resp.headers, b"".join(chunks)
        except httpx.TimeoutException:
            raise ReasoningError(TIMEOUT, f"{self.prefix}: no answer within "
                                 f"{self.timeout_s:g}s") from None
        except httpx.HTTPError as exc:  # connect, read, protocol (a truncated body), decoding
            raise ReasoningError(UNREACHABLE, f"{self.prefix}: {type(exc).__name__}",
                                 detail=self.scrub(str(exc))) from None

    def _too_large(self, status: int) -> ReasoningError:
        return ReasoningError(MALFORMED, f"{self.prefix}: response body larger than "
                              f"{self.max_body_bytes} bytes", http_status=status)

    def _json(self, raw: bytes, status: int) -> Any:
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ReasoningError(MALFORMED, f"{self.prefix}: the response body is not JSON",
                                 detail=self._excerpt(raw), http_status=status) from None

    def _status_error(self, status: int, raw: bytes, retry_after: str | None) -> ReasoningError:
        retryable = status in RETRY_STATUSES or status >= 500
        suffix = f" (retry-after: {retry_after})" if retry_after else ""
        return ReasoningError(UNREACHABLE if retryable else REFUSED,
                              f"{self.prefix} http {status}{suffix}",
                              detail=self._excerpt(raw), http_status=status)

    def _excerpt(self, raw: bytes) -> str:
        """The first EXCERPT_BYTES of a body, key scrubbed before the cut (so no part of it
        survives), cut on a character boundary."""
        text = self.scrub(raw.decode("utf-8", errors="replace"))
        return text.encode()[:EXCERPT_BYTES].decode("utf-8", errors="ignore")

    def scrub(self, text: str) -> str:
        """`text` with every secret of this provider replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def complete(self, url: str, headers: dict[str, str], body: dict[str, Any], *,
                 text_of: Callable[[Any], str], token_keys: tuple[str, str]) -> Completion:
        """POST a completion request and read the answer's text (`text_of`, which raises
        ReasoningError on a bad shape) and its (input, output) token counts; an error object
        may echo the key, so what a refusal says is scrubbed."""
        reply = self.post(url, headers, body)
        usage = reply.data.get("usage") if isinstance(reply.data, dict) else None
        try:
            text = text_of(reply.data)
        except ReasoningError as exc:
            exc.detail = self.scrub(exc.detail)
            raise
        return Completion(text=text, input_tokens=token_count(usage, token_keys[0]),
                          output_tokens=token_count(usage, token_keys[1]),
                          attempts=reply.attempts, latency_ms=reply.latency_ms,
                          http_status=reply.status)
