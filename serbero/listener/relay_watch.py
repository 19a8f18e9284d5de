"""What the listener knows about its relays, and what it says about them: one log line per
relay at start-up and on every change (with the error when it is not connected), and, while
none is connected for more than a minute, a warning that repeats at a low rate until one is
back. The heartbeat carries the same states to `serbero status`.

nostr-sdk reconnects by itself; this only watches (the listener polls the client's relays) and
tells the listener which relays just came back, so it can re-read from them at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

#: With no relay connected for this long the listener starts warning…
NONE_CONNECTED_WARN_AFTER_S = 60.0
#: …and repeats the warning this often until one is back.
NONE_CONNECTED_REPEAT_S = 300.0


@dataclass(frozen=True)
class RelayState:
    url: str
    connected: bool
    #: When it last changed (Unix seconds).
    since: float
    #: Why it is not connected (None while connected, or until a probe said).
    error: str | None = None
    #: When its current connection opened, as nostr-sdk reports it (a reconnect changes it).
    connected_at: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"url": self.url, "connected": self.connected, "since": self.since,
                "error": self.error}


class RelayWatch:
    def __init__(self, *, clock: Callable[[], float] = time.time,
                 warn_after_s: float = NONE_CONNECTED_WARN_AFTER_S,
                 repeat_s: float = NONE_CONNECTED_REPEAT_S) -> None:
        self.clock = clock
        self.warn_after_s = warn_after_s
        self.repeat_s = repeat_s
        self.states: dict[str, RelayState] = {}
        self._none_since: float | None = None
        self._last_warning: float | None = None

    def started(self, connections: Mapping[str, int | None], errors: Mapping[str, str]) -> None:
        """The states right after connecting (relay URL → connection time or None, and the
        connection errors); one line per relay."""
        now = self.clock()
        for url, connected_at in sorted(connections.items()):
            state = RelayState(url, connected_at is not None, now,
                               None if connected_at is not None else errors.get(url, "not yet"),
                               connected_at)
            self.states[url] = state
            self._say(state)
        self._count_none(now)

    def observe(self, connections: Mapping[str, int | None]) -> tuple[list[str], list[str]]:
        """Record the relays' states now; return (relays that came back or reconnected, relays
        that went down). A relay going down is logged once `explain` says why."""
        now = self.clock()
        back, down = [], []
        for url, connected_at in connections.items():
            old = self.states.get(url)
            if old is None or old.connected != (connected_at is not None) \
                    or old.connected_at != connected_at:
                state = RelayState(url, connected_at is not None, now, None, connected_at)
                self.states[url] = state
                if state.connected:
                    back.append(url)
                    self._say(state)
                elif old is None or old.connected:
                    down.append(url)
        self._count_none(now)
        return back, down

    def explain(self, url: str, error: str) -> None:
        """Why `url` is not connected: logged with its state, unless it is back already."""
        state = self.states.get(url)
        if state is not None and not state.connected:
            self.states[url] = replace(state, error=error)
            self._say(self.states[url])

    def connected(self) -> list[str]:
        return [url for url, s in self.states.items() if s.connected]

    def _say(self, state: RelayState) -> None:
        if state.connected:
            log.info("relay_connected", extra={"relay": state.url})
        else:
            log.warning("relay_not_connected", extra={"relay": state.url,
                                                      "error": state.error or "unknown"})

    def _count_none(self, now: float) -> None:
        if any(s.connected for s in self.states.values()):
            if self._last_warning is not None:
                log.warning("relays_back", extra={
                    "connected": len(self.connected()), "total": len(self.states),
                    "none_for_s": round(now - (self._none_since or now))})
            self._none_since = self._last_warning = None
            return
        if self._none_since is None:
            self._none_since = now
        waited = now - self._none_since
        due = (self._last_warning is None and waited >= self.warn_after_s) or (
            self._last_warning is not None and now - self._last_warning >= self.repeat_s)
        if due:
            self._last_warning = now
            log.warning("no_relay_connected", extra={
                "for_s": round(waited), "relays": len(self.states),
                "errors": "; ".join(f"{s.url}: {s.error or 'unknown'}"
                                    for s in self.states.values())[:400]})
