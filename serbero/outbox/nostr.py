"""The `nostr` channel: a stored, signed event published to the relays. Signing happened once,
when the row was written; every retry publishes the same event, so relays keep one copy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from nostr_sdk import Event

from serbero.db.models import Outbox
from serbero.errors import PublishError
from serbero.nostr.relays import PublishOutcome
from serbero.outbox.channels import Delivered


class Relays(Protocol):
    def publish_many(self, events: Sequence[str | Event]) -> list[PublishOutcome | PublishError]:
        """Publish every event at once; one outcome or error per event, in order."""


class NostrChannel:
    """Publishes rows through the process's relay bridge (or any object with its
    `publish_many`)."""

    def __init__(self, relays: Relays) -> None:
        self.relays = relays

    def deliver(self, rows: Sequence[Outbox], *,
                signed: Mapping[str, Any]) -> list[Delivered | PublishError]:
        results = self.relays.publish_many([signed.get(row.message_id) or row.body
                                            for row in rows])
        return [r if isinstance(r, PublishError) else Delivered(r.accepted) for r in results]
