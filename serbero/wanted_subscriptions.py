"""The "wanted subscriptions" source: relay subscriptions that workers ask the listener to hold
while they need them (a mediation session's chat, say), kept in the database so that a restart,
a flushed Redis or the embedded broker loses none. Workers write rows (`want`, `drop`); the
listener only reads them (`wanted`) on a short period and subscribes or unsubscribes to match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from nostr_sdk import Filter
from peewee import BigIntegerField, TextField

from serbero.db.models import BaseModel

#: A name is the subscription's id on the relays: short, plain, and never a static one's.
NAME = re.compile(r"[a-z0-9][a-z0-9:._-]{0,47}")
#: The prefix the listener puts before a wanted subscription's name on the relays.
PREFIX = "want:"


class WantedSubscription(BaseModel):
    name = TextField(primary_key=True)
    filters_json = TextField()
    target = TextField()
    created_at = BigIntegerField()
    expires_at = BigIntegerField(null=True)

    class Meta:
        table_name = "wanted_subscriptions"


@dataclass(frozen=True)
class Wanted:
    """One wanted subscription as the listener reads it."""

    name: str
    filters_json: str
    target: str

    def filters(self) -> list[Filter]:
        return [Filter.from_json(json.dumps(f)) for f in json.loads(self.filters_json)]


def want(name: str, filters: Sequence[Filter], *, target: str, now: int,
         ttl_s: int | None = None) -> None:
    """Ask the listener to hold a subscription (or change one's filters); `ttl_s` lets it lapse
    if its worker never drops it. Safe to repeat."""
    if not NAME.fullmatch(name):
        raise ValueError(f"subscription name {name!r} must match {NAME.pattern}")
    if not filters:
        raise ValueError("a subscription needs at least one filter")
    filters_json = json.dumps([json.loads(f.as_json()) for f in filters], sort_keys=True,
                              separators=(",", ":"))
    expires_at = now + ttl_s if ttl_s is not None else None
    (WantedSubscription.insert(name=name, filters_json=filters_json, target=target,
                               created_at=now, expires_at=expires_at)
     .on_conflict(conflict_target=[WantedSubscription.name],
                  update={WantedSubscription.filters_json: filters_json,
                          WantedSubscription.target: target,
                          WantedSubscription.expires_at: expires_at})
     .execute())


def drop(name: str) -> bool:
    """The subscription is no longer needed; True if it was wanted."""
    return WantedSubscription.delete().where(WantedSubscription.name == name).execute() > 0


def wanted(now: int) -> dict[str, Wanted]:
    """Every subscription wanted now, by name."""
    query = WantedSubscription.select().where(WantedSubscription.expires_at.is_null()
                                              | (WantedSubscription.expires_at > now))
    return {row.name: Wanted(row.name, row.filters_json, row.target) for row in query}
