"""A simulated solver: subscribes to what is addressed to it and reads each message as a
solver's client would: Mostro v2 `send-dm` messages (kind 14, NIP-44 from the sender's own key,
as Mostrix reads them) and NIP-17 gift wraps (as a general Nostr client does). Tests read
`messages`; the demo prints them as they arrive. `reply` writes back to Serbero from the
solver's own key, in either form (an `ack`, say)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nostr_sdk import (
    Client,
    Event,
    Filter,
    Keys,
    Kind,
    NostrSdkError,
    ReqTarget,
    Timestamp,
    UnwrappedGift,
    nip44_decrypt,
)

from serbero.messages.formats import mostro_v2_event
from serbero.nostr.dm import solver_dm
from serbero.nostr.relays import open_client, publish
from serbero.simulators.peer import ListeningPeer

#: NIP-59 moves a gift wrap's created_at up to two days into the past.
GIFT_WRAP_LOOKBACK_S = 3 * 86400
GIFT_WRAP, SEND_DM = 1059, 14
NIP17, MOSTRO_V2 = "nip17", "mostro-v2"


@dataclass(frozen=True)
class ReceivedDM:
    sender: str
    text: str
    wrap_id: str
    received_at: float
    #: How it came: "nip17" (gift wrap) or "mostro-v2" (send-dm).
    form: str = NIP17
    #: The `send-dm` message's `id` (the dispute it is about), if any.
    linked_to: str | None = None

    @property
    def subject(self) -> str:
        """What follows `Dispute <id> · ` on the first line, else the whole first line."""
        first = self.text.split("\n", 1)[0]
        head, sep, subject = first.partition(" \u00b7 ")
        return subject if sep and head.startswith("Dispute ") else first


def _send_dm_text(keys: Keys, event: Event) -> tuple[str, str | None] | None:
    """The text and dispute id of a v2 `send-dm`, or None if it is anything else."""
    try:
        plain = nip44_decrypt(keys.secret_key(), event.author(), event.content())
        message, _, _ = json.loads(plain)
        [(_, kind)] = message.items()
        text = kind["payload"]["text_message"]
    except (NostrSdkError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if kind.get("action") != "send-dm" or not isinstance(text, str):
        return None
    return text, kind.get("id")


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
        me = self.keys.public_key()
        now = int(time.time())
        await self.client.subscribe(ReqTarget.auto([
            Filter().kind(Kind(GIFT_WRAP)).pubkey(me)
            .since(Timestamp.from_secs(now - GIFT_WRAP_LOOKBACK_S)),
            Filter().kind(Kind(SEND_DM)).pubkey(me)
            .since(Timestamp.from_secs(now - GIFT_WRAP_LOOKBACK_S))]))
        self._task = asyncio.create_task(self._consume(stream))
        return self

    def read(self, event: Event) -> ReceivedDM | None:
        """The DM `event` carries for this solver, as its client shows it; None if none."""
        if event.kind().as_u16() == SEND_DM:
            if not event.verify() or (opened := _send_dm_text(self.keys, event)) is None:
                return None
            return ReceivedDM(event.author().to_hex(), opened[0], event.id().to_hex(),
                              time.perf_counter(), MOSTRO_V2, opened[1])
        try:
            gift = UnwrappedGift.from_gift_wrap(self.keys, event)
        except NostrSdkError:  # not for this solver, or broken: a client ignores it
            return None
        return ReceivedDM(gift.sender().to_hex(), gift.rumor().content(), event.id().to_hex(),
                          time.perf_counter())

    async def _consume(self, stream) -> None:
        while (n := await stream.next()) is not None:
            if not n.is_new_event() or (dm := self.read(n.event)) is None:
                continue
            self.messages.append(dm)
            self._arrived.set()
            if self.on_message:
                self.on_message(self, dm)

    async def reply(self, to: str, text: str, *, form: str = MOSTRO_V2,
                    dispute_id: str | None = None) -> Event:
        """Send `text` to `to` (hex) as this solver's client would: a v2 `send-dm` (its `id`
        the dispute replied about, as Mostrix files it) or a NIP-17 DM (the dispute in the
        rumor's `d` tag, as Serbero's own DMs carry it)."""
        assert self.client is not None, "connect() first"
        if form == MOSTRO_V2:
            event = mostro_v2_event(text, dispute_id=dispute_id, signer=self.keys, recipient=to,
                                    now=int(time.time()))
        else:
            event = solver_dm(self.keys, to, text, dispute_id=dispute_id)
        await publish(self.client, event)
        return event

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
