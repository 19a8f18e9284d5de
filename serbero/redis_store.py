"""Serbero's own Redis keys, beside dramatiq's: one client per URL per process, and the names
of the keys its counters and heartbeats write (and the operator surface reads) under the
deployment's namespace."""

from __future__ import annotations

import threading

import redis

from serbero.config import redact_url

#: Seconds a status read or a heartbeat waits for Redis before giving up: an operator command
#: or a listener loop must not hang on a Redis that is down.
SOCKET_TIMEOUT_S = 2.0

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def client(url: str) -> redis.Redis:
    """A client for `url`, shared by the threads of this process (redis-py pools connections
    and reopens them after a fork)."""
    with _lock:
        found = _clients.get(url)
        if found is None:
            found = _clients[url] = redis.Redis.from_url(
                url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)
        return found


def key(namespace: str, *parts: str) -> str:
    """`<namespace>:ops:<part>:…`, the prefix of every key Serbero itself writes."""
    return ":".join((namespace, "ops", *parts))


def glob_escape(text: str) -> str:
    """`text` with Redis glob metacharacters escaped, for SCAN MATCH patterns."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def check(url: str) -> str | None:
    """Whether the Redis at `url` answers: None, or the problem and the fix."""
    try:
        client(url).ping()
    except redis.RedisError as exc:
        return (f"{redact_url(url)}: does not answer ({exc}); start Redis, or fix "
                "SERBERO_REDIS_URL")
    return None
