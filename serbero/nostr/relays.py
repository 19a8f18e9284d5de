"""Relay connections: building the nostr-sdk client, publishing with a clear outcome, and a
thread-safe bridge so synchronous workers can publish through one asyncio client.

Only connected relays are asked to store an event: nostr-sdk would otherwise hold the call open
until the OK timeout of a relay that is down, although another relay already accepted it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from nostr_sdk import (
    Client,
    ClientBuilder,
    Event,
    NostrSdkError,
    RelayOptions,
    RelayStatus,
    RelayUrl,
    SendEventTarget,
)

from serbero.errors import PublishError
from serbero.nostr.loop import LoopThread

log = logging.getLogger(__name__)

#: nostr-sdk's default (4096) silently drops notifications once a consumer is ~2000 behind.
NOTIFICATION_CHANNEL_SIZE = 65_536
#: For a client that reads no notifications (it publishes and fetches). Every slot of the
#: channel is allocated up front: 65,536 cost about 9 MB of memory, 1,024 next to nothing.
UNREAD_CHANNEL_SIZE = 1_024
#: The library's minimum; its default of 10 s doubles how long a relay restart goes unnoticed.
RECONNECT_INTERVAL_S = 5
#: How long `connect` waits for the first connections before going on in the background.
CONNECT_WAIT_S = 3
#: How long a reachability probe of a relay that is down waits for a TCP connection.
PROBE_TIMEOUT_S = 3
#: How long a relay may take to answer OK to an event.
OK_TIMEOUT_S = 10
#: Relay refusals (NIP-01 OK prefixes) that no retry of the same event can overcome.
PERMANENT_PREFIXES = ("invalid:", "pow:", "blocked:", "restricted:")


@dataclass(frozen=True)
class PublishOutcome:
    """Which relays stored the event, and why the others did not."""

    event_id: str
    accepted: tuple[str, ...]
    rejected: dict[str, str] = field(default_factory=dict)


def parse_relay_url(url: str) -> RelayUrl:
    try:
        return RelayUrl.parse(url)
    except (NostrSdkError, ValueError, TypeError) as exc:
        raise ValueError(f"invalid relay url {url!r}: {exc}") from None


async def open_client(relays: Iterable[str], *, connect_wait_s: float = CONNECT_WAIT_S,
                      channel_size: int = NOTIFICATION_CHANNEL_SIZE) -> Client:
    """A client connected (or reconnecting in the background) to every relay."""
    client, _ = await open_client_reporting(relays, connect_wait_s=connect_wait_s,
                                            channel_size=channel_size)
    return client


async def open_client_reporting(relays: Iterable[str], *, connect_wait_s: float = CONNECT_WAIT_S,
                                channel_size: int = NOTIFICATION_CHANNEL_SIZE
                                ) -> tuple[Client, dict[str, str]]:
    """Like `open_client`, and also why each relay that could not be reached at once was not
    (relay URL → error); nostr-sdk keeps retrying those in the background."""
    client = ClientBuilder().notification_channel_size(channel_size).build()
    options = RelayOptions().retry_interval(timedelta(seconds=RECONNECT_INTERVAL_S))
    for url in relays:
        await client.add_relay(parse_relay_url(url), opts=options.adjust_retry_interval(False))
    first = await client.try_connect(timedelta(seconds=connect_wait_s))  # says why, not retrying
    await client.connect(timedelta(seconds=0))  # retries every relay not connected yet
    return client, {str(url): str(error) for url, error in first.failed.items()}


async def connected_relays(client: Client) -> list[RelayUrl]:
    return [url for url, relay in (await client.relays()).items()
            if relay.status() == RelayStatus.CONNECTED]


async def connections(client: Client) -> dict[str, int | None]:
    """Relay URL → when its current connection opened (Unix seconds), or None while it is not
    connected: a relay that reconnected in between shows another time."""
    return {str(url): (relay.stats().connected_at().as_secs()
                       if relay.status() == RelayStatus.CONNECTED else None)
            for url, relay in (await client.relays()).items()}


async def reachability(url: str, *, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """Why a relay is not connected, as far as a TCP connection to it can tell (nostr-sdk does
    not say why its reconnects fail)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port),
                                           timeout_s)
    except TimeoutError:
        return f"no answer from {parts.hostname}:{port} within {timeout_s:g}s"
    except OSError as exc:  # errno's text: "Connection refused", not asyncio's wording
        reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror
        return f"{reason or exc} ({parts.hostname}:{port})"
    writer.close()
    return f"{parts.hostname}:{port} accepts connections, but the relay did not answer"


async def publish(client: Client, event: Event, *, ok_timeout_s: float = OK_TIMEOUT_S,
                  targets: list[RelayUrl] | None = None) -> PublishOutcome:
    """Send to every connected relay (or `targets`, when the caller already looked them up);
    raise PublishError unless at least one accepted it."""
    if targets is None:
        targets = await connected_relays(client)
    event_id = event.id().to_hex()
    if not targets:
        raise PublishError("no relay connected", permanent=False)
    try:
        out = await client.send_event(event, target=SendEventTarget.to(targets),
                                      ok_timeout=timedelta(seconds=ok_timeout_s))
    except NostrSdkError as exc:
        raise PublishError(f"relay client error: {exc}", permanent=False) from None
    outcome = PublishOutcome(event_id, tuple(str(u) for u in out.success),
                             {str(u): str(reason) for u, reason in out.failed.items()})
    if outcome.accepted:
        return outcome
    reasons = "; ".join(f"{url}: {why}" for url, why in outcome.rejected.items())
    permanent = bool(outcome.rejected) and all(
        why.startswith(PERMANENT_PREFIXES) for why in outcome.rejected.values())
    raise PublishError(f"no relay accepted the event ({reasons})", permanent=permanent)


class RelayBridge:
    """One relay client on a private event-loop thread, usable from any number of threads.

    Worker threads call `publish()`, which runs the coroutine on the bridge's loop and waits
    with a timeout; the client and its connections live as long as the bridge.
    """

    def __init__(self, relays: Iterable[str], *, ok_timeout_s: float = OK_TIMEOUT_S) -> None:
        self.relays = tuple(relays)
        self.ok_timeout_s = ok_timeout_s
        self._loop: LoopThread | None = None
        self._client: Client | None = None
        self._lock = threading.Lock()

    def _started(self) -> tuple[LoopThread, Client]:
        with self._lock:
            if self._client is None or self._loop is None:
                self._loop = LoopThread("relay-bridge")
                self._client = self._loop.run(
                    open_client(self.relays, channel_size=UNREAD_CHANNEL_SIZE), CONNECT_WAIT_S + 5)
            return self._loop, self._client

    def start(self) -> RelayBridge:
        self._started()
        return self

    def publish(self, event_json: str) -> PublishOutcome:
        """Publish an already-signed event; PublishError says whether a retry can help."""
        [result] = self.publish_many([event_json])
        if isinstance(result, PublishError):
            raise result
        return result

    def publish_many(self, items: Sequence[str | Event]) -> list[PublishOutcome | PublishError]:
        """Publish already-signed events (or their JSON) concurrently; one outcome or
        PublishError per event, in order."""
        results: list[PublishOutcome | PublishError | None] = [None] * len(items)
        events: list[tuple[int, Event]] = []
        for i, item in enumerate(items):
            try:
                events.append((i, item if isinstance(item, Event) else Event.from_json(item)))
            except (NostrSdkError, ValueError) as exc:
                results[i] = PublishError(f"stored event does not parse: {exc}", permanent=True)
        if events:
            loop, client = self._started()

            async def send_all() -> list[PublishOutcome | BaseException]:
                targets = await connected_relays(client)
                return await asyncio.gather(
                    *(publish(client, event, ok_timeout_s=self.ok_timeout_s, targets=targets)
                      for _, event in events), return_exceptions=True)
            try:
                sent = loop.run(send_all(), self.ok_timeout_s + 5)
            except TimeoutError:
                sent = [PublishError("relay call timed out", permanent=False)] * len(events)
            for (i, _), outcome in zip(events, sent, strict=True):
                if isinstance(outcome, PublishOutcome | PublishError):
                    results[i] = outcome
                else:  # anything else the client raised: retry later
                    results[i] = PublishError(f"relay client error: {outcome!r}", permanent=False)
        return [r for r in results if r is not None]

    def status(self) -> dict[str, bool]:
        """Relay URL → connected, for status output."""
        loop, client = self._started()

        async def probe() -> dict[str, bool]:
            return {str(u): r.status() == RelayStatus.CONNECTED
                    for u, r in (await client.relays()).items()}
        return loop.run(probe(), 5)

    def close(self) -> None:
        with self._lock:
            loop, client, self._loop, self._client = self._loop, self._client, None, None
        if loop is None:
            return
        if client is not None:
            try:
                loop.run(client.shutdown(), 5)
            except Exception:  # closing must not mask the caller's error
                log.warning("relay_bridge_shutdown_failed", exc_info=True)
        loop.stop()
