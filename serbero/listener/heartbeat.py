"""The listener's heartbeat: every few seconds a running listener writes the time, how many
relays it is connected to and when it last handed a dispute event to the queue, to a Redis key
that expires, so `serbero status` and the metrics endpoint in other processes can read it
(`serbero.ops.heartbeat`).

With the embedded broker (`serbero run` without SERBERO_REDIS_URL) there is no shared place to
write, so nothing is written and readers say the heartbeat is unavailable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
import weakref
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from serbero import redis_store
from serbero.nostr.relays import connected_relays

if TYPE_CHECKING:
    from serbero.listener.listen import Listener

log = logging.getLogger(__name__)

#: Seconds between two heartbeats of one listener.
BEAT_EVERY_S = 5.0
#: Seconds a heartbeat key lives: a listener silent this long counts as down.
BEAT_TTL_S = 20


@dataclass(frozen=True)
class Heartbeat:
    """One listener's latest heartbeat; times are Unix seconds."""

    listener_id: str
    at: float
    started_at: float
    relays_total: int
    relays_connected: int
    last_event_at: float | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Heartbeat:
        data = json.loads(raw)
        return cls(listener_id=str(data["listener_id"]), at=float(data["at"]),
                   started_at=float(data["started_at"]),
                   relays_total=int(data["relays_total"]),
                   relays_connected=int(data["relays_connected"]),
                   last_event_at=(None if data.get("last_event_at") is None
                                  else float(data["last_event_at"])))


@dataclass
class _Beating:
    listener_id: str
    started_at: float
    last_beat: float | None = None  # time.monotonic() of the last attempt


_beating: weakref.WeakKeyDictionary[Listener, _Beating] = weakref.WeakKeyDictionary()


def prefix(namespace: str) -> str:
    return redis_store.key(namespace, "listener") + ":"


async def beat(listener: Listener) -> bool:
    """Publish `listener`'s heartbeat unless one went out less than BEAT_EVERY_S ago; return
    whether one was written. Never raises: a Redis outage must not stop the listener."""
    settings = listener.settings
    if not settings.redis_url:
        return False
    state = _beating.get(listener)
    if state is None:
        state = _beating[listener] = _Beating(
            listener_id=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}",
            started_at=time.time())
    now = time.monotonic()
    if state.last_beat is not None and now - state.last_beat < BEAT_EVERY_S:
        return False
    state.last_beat = now
    try:
        connected = len(await connected_relays(listener.client)) if listener.client else 0
        heartbeat = Heartbeat(listener_id=state.listener_id, at=time.time(),
                              started_at=state.started_at,
                              relays_total=len(settings.relays), relays_connected=connected,
                              last_event_at=listener.last_event_at)
        client = redis_store.client(settings.redis_url)
        await asyncio.to_thread(client.set, prefix(settings.redis_namespace)
                                + state.listener_id, heartbeat.to_json(), ex=BEAT_TTL_S)
    except Exception as exc:
        log.warning("listener_heartbeat_failed", extra={"error": str(exc)})
        return False
    return True


async def forget(listener: Listener) -> None:
    """Remove `listener`'s heartbeat as it stops, so status shows it down at once."""
    state = _beating.pop(listener, None)
    if state is None or not listener.settings.redis_url:
        return
    try:
        client = redis_store.client(listener.settings.redis_url)
        await asyncio.to_thread(client.delete,
                                prefix(listener.settings.redis_namespace) + state.listener_id)
    except Exception as exc:
        log.warning("listener_heartbeat_not_removed", extra={"error": str(exc)})
