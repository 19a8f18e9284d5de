"""The listener's heartbeat: every few seconds a running listener writes its row of process
heartbeats (`serbero.liveness`): each relay's state and error, whether Redis answers, when it
last handed a dispute event over, and whether it is catching up. On a clean stop the row is
marked stopped, so `serbero status` shows it down at once, with when and how it ended.

Written in the listener's own thread, like its cursor (a row every few seconds; a thread pool
would hold one more database connection per thread for as long as the loop lives); a database
that does not answer is reported to the listener's outage tracker (one line, not one per beat).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from serbero.liveness import LISTENER, Beater

if TYPE_CHECKING:
    from serbero.listener.listen import Listener

_beaters: weakref.WeakKeyDictionary[Listener, Beater] = weakref.WeakKeyDictionary()


def details(listener: Listener) -> dict[str, Any]:
    redis = ("embedded" if not listener.settings.redis_url
             else "down" if listener.redis.down else "up")
    return {"relays": [s.as_dict() for s in listener.relays.states.values()],
            "relays_configured": len(listener.settings.relays),
            "last_event_at": listener.last_event_at, "redis": redis,
            "catching_up": listener.catch_up.running(), "cursor": listener.cursor.saved}


def _beater(listener: Listener) -> Beater:
    found = _beaters.get(listener)
    if found is None:
        found = _beaters[listener] = Beater(LISTENER, listener.command)
    return found


async def beat(listener: Listener) -> bool:
    """Write `listener`'s heartbeat unless one went out less than BEAT_EVERY_S ago; return
    whether one was written. Never raises: a database outage must not stop the listener."""
    beater = _beater(listener)
    if not beater.due():
        return False
    return await _write(listener, beater)


async def forget(listener: Listener) -> None:
    """Mark `listener`'s heartbeat stopped, so status shows it down at once."""
    beater = _beaters.pop(listener, None)
    if beater is not None:
        await _write(listener, beater, stopped=True)


async def _write(listener: Listener, beater: Beater, *, stopped: bool = False) -> bool:
    try:
        beater.beat(details(listener), stopped=stopped)
    except Exception as exc:
        listener.database.failed(exc)
        return False
    listener.database.ok()
    return True
