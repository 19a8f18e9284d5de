"""A simulated solver: subscribes to gift wraps addressed to it and decrypts each DM, as a
solver's Nostr client would. Tests read `messages`; the demo prints them as they arrive."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nostr_sdk import Client, Filter, Keys, Kind, NostrSdkError, ReqTarget, Timestamp, UnwrappedGift

from serbero.nostr.relays import open_client
from serbero.simulators.peer import ListeningPeer

#: NIP-59 moves a gift wrap's created_at up to two days into the past.
GIFT_WRAP_LOOKBACK_S = 3 * 86400


@dataclass(frozen=True)
class ReceivedDM:
    sender: str
    text: str
    wrap_id: str
    received_at: float


class SolverInbox(ListeningPeer):
    def __init__(self, keys: Keys | None = None, *, name: str = "solver",
                 on_message: Callable[[SolverInbox, ReceivedDM], None] | None = None) -> None:
        self.keys = keys or Keys.generate()
        self.name = name
        self.on_message = on_message
        self.messages: list[ReceivedDM] = []
        self.client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    @property
    def pubkey(self) -> str:
        return self.keys.public_key().to_hex()

    async def connect(self, relays: Iterable[str]) -> SolverInbox:
        self.client = await open_client(relays)
        stream = self.client.notifications()
        since = Timestamp.from_secs(int(time.time()) - GIFT_WRAP_LOOKBACK_S)
        await self.client.subscribe(ReqTarget.auto([
            Filter().kind(Kind(1059)).pubkey(self.keys.public_key()).since(since)]))
        self._task = asyncio.create_task(self._consume(stream))
        return self

    async def _consume(self, stream) -> None:
        while (n := await stream.next()) is not None:
            if not n.is_new_event():
                continue
            try:
                gift = UnwrappedGift.from_gift_wrap(self.keys, n.event)
            except NostrSdkError:  # not for this solver, or broken: a client ignores it
                continue
            dm = ReceivedDM(gift.sender().to_hex(), gift.rumor().content(),
                            n.event.id().to_hex(), time.perf_counter())
            self.messages.append(dm)
            self._arrived.set()
            if self.on_message:
                self.on_message(self, dm)

    def texts(self, containing: str = "") -> list[str]:
        return [m.text for m in self.messages if containing in m.text]

    async def wait_for(self, count: int, containing: str = "", timeout: float = 10.0) -> list[str]:
        """Wait until at least `count` DMs containing `containing` arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self.texts(containing)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: {len(self.texts(containing))} of {count} DMs "
                                   f"containing {containing!r} after {timeout}s")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.2))
        return self.texts(containing)
