"""Fixtures for the Mostro layer: a node key, disputes recorded the way the daemon records them,
replies built the way mostrod builds them, and relay-side helpers (simulated node and parties,
a collector for what relays deliver to Serbero)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nostr_sdk import Event, Filter, Keys, Kind, PublicKey, Timestamp

from serbero import clock, outbox
from serbero.disputes import ingest
from serbero.mostro import inbox, info, protocols, signing, take, transport
from serbero.mostro.messages import MostroMessage
from serbero.simulators.mostro_node import dispute_event
from tests.conftest import via


@pytest.fixture
def node_keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def record_dispute(db: Any, make_settings: Callable[..., Any], serbero_keys: Keys,
                   node_keys: Keys) -> Callable[..., str]:
    """Record a dispute through the daemon's own ingest: `record_dispute(status=…)`. A test
    that also asks for `backend` runs on SQLite and on PostgreSQL."""
    settings = make_settings(mostro=node_keys.public_key().to_hex())

    def record(dispute_id: str | None = None, *, status: str = "initiated",
               solver: str | None = None, at: int | None = None) -> str:
        dispute_id = dispute_id or str(uuid.uuid4())
        event = dispute_event(node_keys, dispute_id, status, solver=solver,
                              created_at=at if at is not None else clock.now())
        ingest.ingest(event.as_json(), settings=settings, signer=serbero_keys, now=clock.now())
        return dispute_id
    return record


def solver_info(order_id: str, buyer: str, seller: str) -> dict[str, Any]:
    return {"id": order_id, "kind": "sell", "status": "dispute", "hash": None, "preimage": None,
            "order_previous_status": "active", "initiator_pubkey": buyer, "buyer_pubkey": buyer,
            "seller_pubkey": seller, "initiator_full_privacy": True,
            "counterpart_full_privacy": True, "initiator_info": None, "counterpart_info": None,
            "premium": 0, "payment_method": "sepa", "amount": 1000, "fiat_amount": 10, "fee": 3,
            "routing_fee": 0, "buyer_invoice": None, "invoice_held_at": 0, "taken_at": 0,
            "created_at": 0}


@pytest.fixture
def reply_from(node_keys: Keys, serbero_keys: Keys) -> Callable[..., str]:
    """A raw event carrying `msg` from the node (or `sender`) to Serbero, as mostrod sends it."""
    def build(msg: MostroMessage, *, mode: str = protocols.V2, sender: Keys | None = None,
              at: int | None = None) -> str:
        now = at if at is not None else int(time.time())
        return transport.wrap(signing.encode(msg, transport=mode), transport=mode,
                              sender=sender or node_keys,
                              recipient=serbero_keys.public_key().to_hex(), now=now).as_json()
    return build


class Collector:
    """A relay client that keeps the JSON of every new event, per subscription id."""

    def __init__(self) -> None:
        self.client: Any = None
        self.events: dict[str, list[str]] = {}
        self._task: Any = None

    async def connect(self, relays: list[str]) -> Collector:
        import asyncio

        from serbero.nostr.relays import open_client

        self.client = await open_client(relays)
        stream = self.client.notifications()

        async def consume() -> None:
            while (n := await stream.next()) is not None:
                if n.is_new_event():
                    self.events.setdefault(n.subscription_id, []).append(n.event.as_json())
        self._task = asyncio.create_task(consume())
        return self

    async def subscribe(self, name: str, filters: list[Any]) -> None:
        from nostr_sdk import ReqTarget

        await self.client.subscribe(ReqTarget.auto(filters), id=name)

    async def wait_for(self, name: str, count: int, timeout: float = 10.0) -> list[str]:
        import asyncio

        deadline = time.monotonic() + timeout
        while len(self.events.get(name, [])) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.events.get(name, []))} of {count} on {name}")
            await asyncio.sleep(0.02)
        return self.events[name]

    async def send(self, event: Event) -> None:
        from serbero.nostr.relays import publish

        await publish(self.client, event)

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.client.shutdown()


@pytest.fixture
def collector(nostr_loop: Any, relay: str) -> Iterator[Collector]:
    """Serbero's side of the relay: subscriptions whose events the test applies by hand, as
    the listener's actor would."""
    c = nostr_loop.run(Collector().connect([relay]), 10)
    yield c
    nostr_loop.run(c.shutdown(), 10)


@pytest.fixture
def responder(nostr_loop: Any, relay: str, mostro: Any) -> Iterator[Any]:
    """The simulated node's request handling, on the same keys as the `mostro` fixture."""
    from serbero.simulators.mostro_responder import MostroResponder

    r = nostr_loop.run(MostroResponder(mostro, pow_bits=4, pow_first_contact=8).connect([relay]),
                       10)
    yield r
    nostr_loop.run(r.shutdown(), 10)


@pytest.fixture
def make_party(nostr_loop: Any, relay: str, mostro: Any) -> Iterator[Callable[..., Any]]:
    """`make_party(keys, role)`: a simulated buyer or seller client on the relay."""
    from serbero.simulators.party import SimulatedParty

    made: list[Any] = []

    def make(keys: Keys, role: str = "buyer") -> Any:
        party = nostr_loop.run(SimulatedParty(keys, mostro_pubkey=mostro.pubkey,
                                              role=role).connect([relay]), 10)
        made.append(party)
        return party
    yield make
    for party in made:
        nostr_loop.run(party.shutdown(), 10)


@pytest.fixture
def bridge(relay: str) -> Iterator[Any]:
    """Serbero's publishing side: the relay bridge the outbox and workers use."""
    from serbero.nostr.relays import RelayBridge

    b = RelayBridge([relay])
    yield b
    b.close()


@pytest.fixture
def serbero(nostr_loop, relay, db, mostro, responder, collector, bridge, make_settings,
            serbero_keys):
    """Serbero's side, wired by hand the way the listener and the actors wire it."""

    class Side:
        settings = make_settings(relays=[relay], mostro=mostro.pubkey)
        pubkey = serbero_keys.public_key().to_hex()
        keys = serbero_keys

        def subscribe(self):
            since = clock.now() - 60
            nostr_loop.run(collector.subscribe("info", inbox.node_filters(
                mostro_pubkey=mostro.pubkey)), 10)
            nostr_loop.run(collector.subscribe("replies", inbox.reply_filters(
                mostro_pubkey=mostro.pubkey, serbero_pubkey=self.pubkey, since=since)), 10)
            nostr_loop.run(collector.subscribe("disputes", [
                Filter().kind(Kind(38386)).author(PublicKey.parse(mostro.pubkey))
                .since(Timestamp.from_secs(since))]), 10)

        def apply(self, raw):
            return inbox.ingest(raw, signer=serbero_keys, mostro_pubkey=mostro.pubkey,
                                now=clock.now())

        def open_dispute(self):
            dispute_id = nostr_loop.run(mostro.open_dispute(), 10)
            [raw] = nostr_loop.run(collector.wait_for("disputes", 1), 10)
            ingest.ingest(raw, settings=self.settings, signer=serbero_keys, now=clock.now())
            return dispute_id

        def learn_node(self):
            nostr_loop.run(responder.announce(), 10)
            [raw] = nostr_loop.run(collector.wait_for("info", 1), 10)
            assert self.apply(raw) == "info_recorded"
            return info.current_profile(self.settings)

        def take(self, dispute_id, profile=None, timeout_s=30):
            start = take.begin(dispute_id, signer=serbero_keys, node_pubkey=mostro.pubkey,
                               profile=profile or info.current_profile(self.settings),
                               now=clock.now(), timeout_s=timeout_s)
            assert start.outcome == "sent"
            for row_id in start.outbox_ids:
                assert outbox.publish(row_id, channels=via(bridge), settings=self.settings,
                                      now=clock.now()) == "sent"
            return start

        def replies(self, count, timeout=10):
            return [self.apply(raw) for raw in
                    nostr_loop.run(collector.wait_for("replies", count, timeout), timeout + 5)]

    side = Side()
    side.subscribe()
    return side
