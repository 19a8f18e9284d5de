"""A simulated Mostro node answering `admin-take-dispute` over a real relay as mostrod does:
`admin-took-dispute` with `SolverDisputeInfo` to the solver, the `peer` notice to buyer and
seller, then the `in-progress` revision; or `cant-do`; or silence; or a silent take (the
revision without any reply, Mostro issue 812). It also announces the node (kind 38385 info,
kind 10002 relay list) and drops what mostrod's gate drops: under-PoW, stale, undecryptable.

Test support for the suite and `serbero demo`; never used by the daemon.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nostr_sdk import (
    ClientNotificationStream,
    Event,
    EventBuilder,
    Filter,
    Keys,
    Kind,
    ReqTarget,
    Tag,
    Timestamp,
)

from serbero.errors import EventRejected
from serbero.mostro import protocols, signing, transport
from serbero.mostro.info import INFO_KIND, RELAY_LIST_KIND
from serbero.mostro.messages import MostroMessage
from serbero.nostr.relays import open_client, publish
from serbero.simulators.mostro_node import MostroNode
from serbero.simulators.peer import ListeningPeer

SUCCESS, SILENCE, SILENT_TAKE = "success", "silence", "silent_take"
#: mostrod's freshness rule: the request's inner created_at must be at most this old.
FRESHNESS_S = 10
#: mostrod's default `dm_days`: the expiration it puts on its own messages.
DM_EXPIRATION_S = 30 * 86400


@dataclass
class SimOrder:
    """The order behind a dispute, with both parties' trade keys."""

    order_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    buyer: Keys = field(default_factory=Keys.generate)
    seller: Keys = field(default_factory=Keys.generate)
    initiator: str = "buyer"
    amount: int = 21_000
    fiat_amount: int = 50

    def solver_info(self, now: int) -> dict[str, Any]:
        """`SolverDisputeInfo` in mostro-core's field order."""
        initiator = self.buyer if self.initiator == "buyer" else self.seller
        return {
            "id": self.order_id, "kind": "sell", "status": "dispute", "hash": "ab" * 32,
            "preimage": None, "order_previous_status": "fiat-sent",
            "initiator_pubkey": initiator.public_key().to_hex(),
            "buyer_pubkey": self.buyer.public_key().to_hex(),
            "seller_pubkey": self.seller.public_key().to_hex(),
            "initiator_full_privacy": False, "counterpart_full_privacy": True,
            "initiator_info": {"rating": 4.5, "reviews": 10, "operating_days": 30},
            "counterpart_info": None, "premium": 0, "payment_method": "bank transfer",
            "amount": self.amount, "fiat_amount": self.fiat_amount, "fee": 63,
            "routing_fee": 0, "buyer_invoice": None, "invoice_held_at": now - 600,
            "taken_at": now - 900, "created_at": now - 3600,
        }


@dataclass(frozen=True)
class TakeSeen:
    dispute_id: str
    request_id: int | None
    identity: str
    transport: str
    pow_bits: int


class MostroResponder(ListeningPeer):
    """Answers take requests for the disputes of `node`; `behaviour[dispute_id]` picks the
    answer: SUCCESS (default), SILENCE, SILENT_TAKE or `cant-do:<reason>`."""

    def __init__(self, node: MostroNode, *, transport_version: str = protocols.V2,
                 pow_bits: int = 0,
                 pow_first_contact: int | None = None, serbero: str | None = None,
                 tag_solver: bool = False) -> None:
        self.node = node
        self.transport = transport_version
        self.pow = pow_bits
        self.pow_first_contact = pow_first_contact
        self.serbero = serbero
        self.tag_solver = tag_solver
        self.orders: dict[str, SimOrder] = {}
        self.behaviour: dict[str, str] = {}
        self.takes: list[TakeSeen] = []
        self.dropped: list[str] = []
        self.client = None
        self._task: asyncio.Task[None] | None = None

    @property
    def required_pow(self) -> int:
        return max(self.pow, self.pow_first_contact or 0)

    def order_for(self, dispute_id: str) -> SimOrder:
        return self.orders.setdefault(dispute_id, SimOrder())

    async def connect(self, relays: Iterable[str]) -> MostroResponder:
        self.client = await open_client(relays)
        stream = self.client.notifications()
        me = self.node.keys.public_key()
        since = Timestamp.from_secs(int(time.time()) - 3 * 86400)
        await self.client.subscribe(ReqTarget.auto([
            Filter().kinds([Kind(k) for k in sorted(protocols.kinds())]).pubkey(me)
            .since(since)]))
        self._task = asyncio.create_task(self._consume(stream))
        return self

    async def _consume(self, stream: ClientNotificationStream) -> None:
        while (n := await stream.next()) is not None:
            if n.is_new_event():
                await self.handle(n.event.as_json())

    async def handle(self, raw: str) -> str:
        """Apply mostrod's gate and answer one request; return what was done."""
        now = int(time.time())
        try:
            opened = transport.open_event(raw, keys=self.node.keys, now=now)
            if opened.pow_bits < self.required_pow:
                raise EventRejected("under_pow", f"{opened.pow_bits} < {self.required_pow}")
            if opened.created_at < now - FRESHNESS_S:
                raise EventRejected("stale", f"{now - opened.created_at}s old")
            content = signing.decode(opened.content, transport=opened.transport,
                                     author=opened.author)
        except EventRejected as rejected:
            self.dropped.append(rejected.reason)
            return f"dropped:{rejected.reason}"
        msg = content.message
        if msg.action != "admin-take-dispute" or msg.id is None:
            self.dropped.append(f"ignored:{msg.action}")
            return "ignored"
        self.takes.append(TakeSeen(msg.id, msg.request_id, content.identity, opened.transport,
                                   opened.pow_bits))
        return await self._answer(msg, content.identity, opened.author)

    async def _answer(self, msg: MostroMessage, identity: str, sender: str) -> str:
        dispute_id = msg.id
        assert dispute_id is not None
        behaviour = self.behaviour.get(dispute_id, SUCCESS)
        if behaviour == SILENCE:
            return SILENCE
        if behaviour.startswith("cant-do:"):
            reason = behaviour.split(":", 1)[1] or None
            await self.send_message(sender, MostroMessage(
                wrapper="cant-do", action="cant-do", id=dispute_id, request_id=msg.request_id,
                payload={"cant_do": reason}, version=msg.version))
            return behaviour
        revision = self.node.revision(dispute_id, "in-progress",
                                      solver=identity if self.tag_solver else None)
        if behaviour == SUCCESS:
            order, now = self.order_for(dispute_id), int(time.time())
            await self.send_message(identity, MostroMessage(
                wrapper="dispute", action="admin-took-dispute", id=dispute_id,
                request_id=msg.request_id, version=msg.version,
                payload={"dispute": [dispute_id, order.solver_info(now)]}))
            notice = MostroMessage(wrapper="order", action="admin-took-dispute",
                                   id=order.order_id, request_id=msg.request_id,
                                   version=msg.version,
                                   payload={"peer": {"pubkey": identity, "reputation": None}})
            for party in (order.buyer, order.seller):
                await self.send_message(party.public_key().to_hex(), notice)
        await self.node.send(revision)
        return behaviour

    async def send_message(self, recipient: str, msg: MostroMessage, *,
                           created_at: int | None = None) -> Event:
        """Send a Mostro message the way mostrod does: unsigned tuple, node's transport."""
        now = created_at if created_at is not None else int(time.time())
        event = transport.wrap(signing.encode(msg, transport=self.transport),
                               transport=self.transport, sender=self.node.keys,
                               recipient=recipient, now=now, expiration=now + DM_EXPIRATION_S)
        await publish(self.client, event)
        return event

    def info_event(self, *, protocol_version: str | None = None, created_at: int | None = None,
                   extra_tags: Iterable[list[str]] = ()) -> Event:
        """The node's kind-38385 info event, tags as mostrod publishes them."""
        pk = self.node.pubkey
        if protocol_version is None:
            protocol_version = str(protocols.get(self.transport).number)
        tags = [["d", pk], ["mostro_version", "0.19.2"], ["pow", str(self.pow)]]
        if self.pow_first_contact is not None:
            tags.append(["pow_first_contact", str(self.pow_first_contact)])
        if protocol_version:  # "" leaves the tag out, as nodes before protocol v2 did
            tags.append(["protocol_version", protocol_version])
        tags.append(["bond_enabled", "false"])
        if self.serbero is not None:
            tags.append(["serbero", self.serbero])
        tags += [["y", "mostro"], ["z", "info"], *extra_tags]
        builder = EventBuilder(Kind(INFO_KIND), "").tags([Tag.parse(t) for t in tags])
        if created_at is not None:
            builder = builder.custom_created_at(Timestamp.from_secs(created_at))
        return builder.finalize(self.node.keys)

    async def announce(self, relays: Iterable[str] = ()) -> Event:
        """Publish the info event and, if given, a NIP-65 relay list."""
        info = await self.node.send(self.info_event())
        urls = list(relays)
        if urls:
            relay_list = (EventBuilder(Kind(RELAY_LIST_KIND), "")
                          .tags([Tag.parse(["r", u]) for u in urls]).finalize(self.node.keys))
            await self.node.send(relay_list)
        return info
