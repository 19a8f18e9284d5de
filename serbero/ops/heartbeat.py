"""Reading the listeners' heartbeats (written by `serbero.listener.heartbeat`)."""

from __future__ import annotations

import logging

import redis

from serbero.listener.heartbeat import Heartbeat, prefix
from serbero.redis_store import glob_escape

log = logging.getLogger(__name__)

__all__ = ["Heartbeat", "read"]


def read(client: redis.Redis, namespace: str) -> list[Heartbeat]:
    """The heartbeats of every listener alive in the last BEAT_TTL_S, newest first."""
    keys = list(client.scan_iter(match=glob_escape(prefix(namespace)) + "*", count=500))
    beats = []
    for raw in client.mget(keys) if keys else []:
        if raw is None:
            continue  # expired between SCAN and MGET
        try:
            beats.append(Heartbeat.from_json(raw))
        except (ValueError, KeyError, TypeError):
            log.warning("listener_heartbeat_unreadable")
    return sorted(beats, key=lambda b: b.at, reverse=True)
