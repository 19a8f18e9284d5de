"""Channels: how an outbox row leaves the host. One class per channel, each a module of this
package, with the same two-part contract as healthchecks' transports: `deliver` returns, per
row, either what accepted it or a PublishError that says whether a retry can help.

A channel sends what the row holds and never changes state; the outbox records the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from serbero.db.models import Outbox
from serbero.errors import PublishError

#: The order in which the outbox sends a batch: a slow webhook never holds a DM back.
ORDER = ("nostr", "webhook")


@dataclass(frozen=True)
class Delivered:
    """Who took the row: the relays that stored the event, or the webhook that answered 2xx."""

    accepted_by: tuple[str, ...]


class Channel(Protocol):
    def deliver(self, rows: Sequence[Outbox], *,
                signed: Mapping[str, Any]) -> list[Delivered | PublishError]:
        """Send every row (at once where the channel can); one outcome per row, in order.
        `signed` maps message ids to events still in memory, which spare a parse."""


#: Channel name → the channel of this process.
Channels = Mapping[str, Channel]
