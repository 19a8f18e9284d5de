"""Fixtures for escalation tests: people with real keys, disputes in any state, settings with an
`[escalation]` section, and a relay stand-in for the outbox's one network call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from nostr_sdk import Event, Keys, UnwrappedGift

from serbero.config import EscalationSection, SolverEntry
from serbero.db.models import Dispute
from serbero.errors import PublishError
from serbero.nostr.relays import PublishOutcome
from tests.conftest import OneAtATime

NOW = 1_750_000_000


class Person:
    """A solver with a real key pair, who can open the gift wraps addressed to them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.keys = Keys.generate()

    @property
    def pubkey(self) -> str:
        return self.keys.public_key().to_hex()

    def write(self) -> SolverEntry:
        return SolverEntry(pubkey=self.pubkey, permission="write")

    def read(self) -> SolverEntry:
        return SolverEntry(pubkey=self.pubkey, permission="read")

    def open(self, event_json: str) -> tuple[str, str]:
        """(sender hex, text) of a gift wrap addressed to this person."""
        gift = UnwrappedGift.from_gift_wrap(self.keys, Event.from_json(event_json))
        return gift.sender().to_hex(), gift.rumor().content()


@pytest.fixture
def notice_format() -> str:
    """These tests pin the `escalation_handoff/v1` DM byte for byte, as the original sends it;
    the Mostro v2 form of a handoff is tested in tests/channels/."""
    return "nip17-original"


@pytest.fixture
def ana() -> Person:
    return Person("ana")


@pytest.fixture
def bo() -> Person:
    return Person("bo")


@pytest.fixture
def cy() -> Person:
    return Person("cy")


@pytest.fixture
def make_dispute(db: Any) -> Callable[..., Dispute]:
    """`make_dispute(state="notified", assigned_solver=None, **columns)`: a dispute row."""
    counter = iter(range(1, 1_000_000))

    def make(dispute_id: str | None = None, *, state: str = "notified", **columns: Any) -> Dispute:
        n = next(counter)
        dispute_id = dispute_id or f"00000000-0000-4000-8000-{n:012d}"
        values = {"dispute_id": dispute_id, "event_id": f"{n:064x}", "mostro_pubkey": "m" * 64,
                  "initiator_role": "buyer", "event_timestamp": NOW - 100,
                  "detected_at": NOW - 90, "lifecycle_state": state,
                  "status_event_id": f"{n:064x}", "status_event_at": NOW - 100,
                  "status_stage": 0, **columns}
        return Dispute.create(**values)
    return make


@pytest.fixture
def esc_settings(make_settings: Callable[..., Any]) -> Callable[..., Any]:
    """`esc_settings(solvers=[SolverEntry…], enabled=True, fallback=False)`."""
    def make(*, solvers: list[SolverEntry] = (), enabled: bool = True,
             fallback: bool = False, interval: int = 30) -> Any:
        return make_settings().replace(
            solvers=tuple(solvers),
            escalation=EscalationSection(enabled=enabled, dispatch_interval_seconds=interval,
                                         fallback_to_all_solvers=fallback))
    return make


@pytest.fixture
def signer(serbero_keys: Keys) -> Keys:
    return serbero_keys


class Relays(OneAtATime):
    """Stands in for the relay bridge's publish call (the outbox's only network call): accepts
    every event unless told to refuse some recipients, and remembers what it was given."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.refuse: dict[str, PublishError] = {}

    def publish(self, event_json: str) -> PublishOutcome:
        event = json.loads(event_json)
        recipient = next(t[1] for t in event["tags"] if t[0] == "p")
        if recipient in self.refuse:
            raise self.refuse[recipient]
        self.published.append(event_json)
        return PublishOutcome(event["id"], ("ws://relay.test",))


@pytest.fixture
def relays() -> Relays:
    return Relays()
