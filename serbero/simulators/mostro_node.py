"""A simulated Mostro node: publishes dispute events (kind 38386) exactly as mostrod shapes them,
with strictly increasing revision timestamps per dispute (mostrod PR #899)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from nostr_sdk import Client, Event, EventBuilder, Keys, Kind, Tag, Timestamp

from serbero.disputes.events import DISPUTE_KIND
from serbero.nostr.relays import open_client, publish

#: mostrod's default expiration for dispute events: 90 days.
EXPIRATION_S = 90 * 86400


def dispute_event(keys: Keys, dispute_id: str, status: str, *, initiator: str | None = "buyer",
                  created_at: int | None = None, opened_at: int | None = None,
                  solver: str | None = None, extra_tags: Iterable[list[str]] = (),
                  open_time_tag: str = "published_at") -> Event:
    """A signed kind-38386 revision with mostrod's tag order."""
    at = created_at if created_at is not None else int(time.time())
    tags = [["d", dispute_id], ["expiration", str(at + EXPIRATION_S)], ["s", status]]
    if initiator is not None:
        tags.append(["initiator", initiator])
    tags.append([open_time_tag, str(opened_at if opened_at is not None else at)])
    if solver is not None:
        tags.append(["p", solver])
    tags += [["y", "mostro"], ["z", "dispute"], *extra_tags]
    return (EventBuilder(Kind(DISPUTE_KIND), "").tags([Tag.parse(t) for t in tags])
            .custom_created_at(Timestamp.from_secs(at)).finalize(keys))


class MostroNode:
    """Opens, takes and closes disputes by publishing their revisions to the relays."""

    def __init__(self, keys: Keys | None = None) -> None:
        self.keys = keys or Keys.generate()
        self.client: Client | None = None
        self._last_at: dict[str, int] = {}
        self._opened_at: dict[str, int] = {}
        self._initiator: dict[str, str] = {}
        #: Each dispute's opening event, as published (to replay it).
        self.opened: dict[str, Event] = {}

    @property
    def pubkey(self) -> str:
        return self.keys.public_key().to_hex()

    async def connect(self, relays: Iterable[str]) -> MostroNode:
        self.client = await open_client(relays)
        return self

    def revision(self, dispute_id: str, status: str, *, solver: str | None = None,
                 initiator: str | None = None) -> Event:
        """The next revision of a dispute, stamped after every earlier one."""
        at = max(int(time.time()), self._last_at.get(dispute_id, 0) + 1)
        self._last_at[dispute_id] = at
        self._opened_at.setdefault(dispute_id, at)
        who = initiator or self._initiator.setdefault(dispute_id, "buyer")
        return dispute_event(self.keys, dispute_id, status, initiator=who, created_at=at,
                             opened_at=self._opened_at[dispute_id], solver=solver)

    async def send(self, event: Event) -> Event:
        assert self.client is not None, "connect() first"
        await publish(self.client, event)
        return event

    async def open_dispute(self, *, initiator: str = "buyer",
                           dispute_id: str | None = None) -> str:
        dispute_id = dispute_id or str(uuid.uuid4())
        self._initiator[dispute_id] = initiator
        self.opened[dispute_id] = await self.send(self.revision(dispute_id, "initiated"))
        return dispute_id

    async def take(self, dispute_id: str, solver: str | None = None) -> Event:
        """Publish an `in-progress` revision. mostrod names nobody on it; `solver` adds the
        `p` tag that older Serbero specifications read, to exercise that path."""
        return await self.send(self.revision(dispute_id, "in-progress", solver=solver))

    async def close(self, dispute_id: str, status: str = "settled") -> Event:
        return await self.send(self.revision(dispute_id, status))

    async def shutdown(self) -> None:
        if self.client is not None:
            await self.client.shutdown()
