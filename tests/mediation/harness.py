"""Driving mediation in the test's thread, as the workers would, against a real database, the
scripted model on loopback, real keys and real encryption, without a broker or a relay:
`Mediation` runs every entry point the actors run and the jobs their follow-ups name (each when
its time has come on the test's clock), publishes through a relay stand-in that records what it
was given, and plays the Mostro node's side of a take. `Party` is a buyer or seller holding a
trade key: it writes in its channel and reads what Serbero sent it, decrypting it as its app
would.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nostr_sdk import Event, Keys

from serbero import outbox
from serbero.db.models import Dispute, Outbox
from serbero.disputes import ingest
from serbero.escalation import dispatch
from serbero.followup import FollowUp, Later
from serbero.mediation import daemon
from serbero.mediation.models import MediationSession
from serbero.mostro import chat, protocols, signing, transport
from serbero.mostro.chat_receive import ChatGuard, open_chat_event
from serbero.mostro.messages import MostroMessage
from serbero.mostro.models import TakeRequest
from serbero.nostr.relays import PublishOutcome
from serbero.simulators.mostro_node import dispute_event
from serbero.simulators.solver_inbox import SolverInbox


class Clock:
    """The test's clock: `serbero.clock.now` reads it; `advance` moves it."""

    def __init__(self, start: int) -> None:
        self.at = start

    def __call__(self) -> int:
        return self.at

    def advance(self, seconds: int) -> int:
        self.at += seconds
        return self.at


class Relays:
    """Stands in for the relay bridge: accepts every event (unless told to refuse) and keeps
    its JSON, so a party or a solver can read what was published."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.refuse_all: str | None = None

    def publish_many(self, events: list[Any]) -> list[Any]:
        from serbero.errors import PublishError

        out: list[Any] = []
        for e in events:
            raw = e.as_json() if isinstance(e, Event) else e
            if self.refuse_all is not None:
                out.append(PublishError(self.refuse_all, permanent=True))
                continue
            self.published.append(raw)
            out.append(PublishOutcome(json.loads(raw)["id"], ("ws://relay.test",)))
        return out


@dataclass
class Party:
    """A buyer or seller: a trade key, and its channel with Serbero (derived on its side)."""

    role: str
    serbero_pubkey: str
    keys: Keys = field(default_factory=Keys.generate)

    @property
    def pubkey(self) -> str:
        return self.keys.public_key().to_hex()

    @property
    def channel(self) -> chat.ChatKeys:
        return chat.derive_chat_keys(self.keys.secret_key().to_hex(), self.serbero_pubkey)

    def says(self, text: str, at: int, *, signer: Keys | None = None) -> str:
        """A kind-14 message as mobile sends it (a random `u` tag), signed by the trade key."""
        return chat.build_message(signer or self.keys, self.channel, text, now=at,
                                  inner_tags=[["u", secrets.token_hex(8)]]).as_json()

    def read(self, published: list[str]) -> list[str]:
        """What Serbero wrote to this party among `published`, as its app shows it."""
        channel, guard, seen = self.channel, ChatGuard(), set()
        texts = []
        for raw in published:
            event = json.loads(raw)
            if event["kind"] != 14 or event["pubkey"] != channel.sign_pubkey:
                continue
            try:
                message = open_chat_event(raw, channel, allowed_signers={self.serbero_pubkey},
                                          now=event["created_at"], guard=guard,
                                          is_new_inner=lambda i: i not in seen)
            except Exception:
                continue
            seen.add(message.inner_id)
            texts.append(message.content)
        return texts


#: Job name → how the harness runs it (as its actor would).
def _jobs(m: Mediation) -> dict[str, Callable[..., FollowUp]]:
    rt = m.rt
    return {
        "start_mediation": lambda dispute_id, trigger="detected":
            daemon.start_job(dispute_id, rt, m.clock(), trigger),
        "mediation_timer": lambda sid, kind, token:
            daemon.timer_job(sid, kind, token, rt, m.clock()),
        "mediation_hand_off": lambda sid, trigger: daemon.hand_off_job(sid, trigger, rt,
                                                                       m.clock()),
        "dispatch_handoff": lambda handoff_id: dispatch.dispatch_one(
            handoff_id, settings=rt.settings, signer=rt.signer, now=m.clock()),
        "redispatch_handoff": lambda handoff_id, token: dispatch.dispatch_one(
            handoff_id, settings=rt.settings, signer=rt.signer, now=m.clock(), token=token),
    }


class Mediation:
    """The daemon's steps in the test's thread (see the module docstring)."""

    def __init__(self, rt: Any, clock: Clock, node_keys: Keys, relays: Relays) -> None:
        self.rt, self.clock, self.node_keys, self.relays = rt, clock, node_keys, relays
        self.pending: list[Later] = []
        self.ran: list[str] = []

    # ------------------------------------------------------------ follow-ups and jobs

    def follow(self, result: FollowUp) -> FollowUp:
        """Publish what a step left to publish, keep its jobs for their time."""
        if result.publish:
            self.publish([p.row_id for p in result.publish], result.signed)
        self.pending.extend(result.later)
        return result

    def publish(self, row_ids: list[int], signed: Any = None) -> None:
        published = outbox.publish_many(row_ids, channels=self.rt.channels,
                                        settings=self.rt.settings, now=self.clock(),
                                        signed=signed)
        self.follow(FollowUp(publish=published.publish, later=published.later))

    def run_due(self, *, only: str | None = None, limit: int = 200) -> int:
        """Run every job whose time has come (and those they leave due); how many ran."""
        ran = 0
        jobs = _jobs(self)
        while ran < limit:
            due = [j for j in self.pending if j.at <= self.clock()
                   and (only is None or j.job == only)]
            if not due:
                return ran
            job = due[0]
            self.pending.remove(job)
            self.ran.append(job.job)
            self.follow(jobs[job.job](*job.args))
            ran += 1
        raise AssertionError(f"more than {limit} jobs: {self.ran[-10:]}")

    def jobs(self, name: str) -> list[Later]:
        return [j for j in self.pending if j.job == name]

    def tick(self) -> FollowUp:
        return self.follow(daemon.tick(self.rt, self.clock()))

    # ------------------------------------------------------------ the node and the parties

    def revision(self, dispute_id: str, status: str, *, at: int | None = None,
                 solver: str | None = None, keys: Keys | None = None) -> Any:
        event = dispute_event(keys or self.node_keys, dispute_id, status, solver=solver,
                              created_at=at if at is not None else self.clock())
        return self.follow(ingest.ingest(event.as_json(), settings=self.rt.settings,
                                         signer=self.rt.signer, now=self.clock()))

    def open_dispute(self, dispute_id: str | None = None, initiator: str = "buyer") -> str:
        dispute_id = dispute_id or str(uuid.uuid4())
        event = dispute_event(self.node_keys, dispute_id, "initiated", initiator=initiator,
                              created_at=self.clock())
        self.follow(ingest.ingest(event.as_json(), settings=self.rt.settings,
                                  signer=self.rt.signer, now=self.clock()))
        return dispute_id

    def reply(self, msg: MostroMessage, *, sender: Keys | None = None) -> FollowUp:
        raw = transport.wrap(signing.encode(msg, transport=protocols.V2), transport=protocols.V2,
                             sender=sender or self.node_keys,
                             recipient=self.rt.settings.serbero_pubkey,
                             now=self.clock()).as_json()
        return self.follow(daemon.mostro_event(raw, self.rt, self.clock()))

    def took(self, dispute_id: str, buyer: Party, seller: Party, *,
             revision: bool = True) -> FollowUp:
        """The node accepts Serbero's take as mostrod does: the reply, then the revision."""
        request = (TakeRequest.select().where(TakeRequest.dispute_id == dispute_id)
                   .order_by(TakeRequest.id.desc()).get())
        info = {"id": str(uuid.uuid4()), "kind": "sell", "status": "dispute", "hash": None,
                "preimage": None, "order_previous_status": "fiat-sent",
                "initiator_pubkey": buyer.pubkey, "buyer_pubkey": buyer.pubkey,
                "seller_pubkey": seller.pubkey, "initiator_full_privacy": True,
                "counterpart_full_privacy": True, "initiator_info": None,
                "counterpart_info": None, "premium": 0, "payment_method": "sepa",
                "amount": 1000, "fiat_amount": 10, "fee": 3, "routing_fee": 0,
                "buyer_invoice": None, "invoice_held_at": 0, "taken_at": 0, "created_at": 0}
        result = self.reply(MostroMessage(
            wrapper="dispute", action="admin-took-dispute", id=dispute_id,
            request_id=request.request_id, payload={"dispute": [dispute_id, info]}))
        if revision:
            self.revision(dispute_id, "in-progress")
        return result

    def refused(self, dispute_id: str, reason: str) -> FollowUp:
        request = (TakeRequest.select().where(TakeRequest.dispute_id == dispute_id)
                   .order_by(TakeRequest.id.desc()).get())
        return self.reply(MostroMessage(wrapper="cant-do", action="cant-do", id=dispute_id,
                                        request_id=request.request_id,
                                        payload={"cant_do": reason}))

    def chat(self, party: Party, text: str, *, at: int | None = None,
             signer: Keys | None = None) -> Any:
        raw = party.says(text, at if at is not None else self.clock(), signer=signer)
        return self.follow(daemon.chat_event(raw, self.rt, self.clock()))

    def deliver(self, raw: str) -> Any:
        return self.follow(daemon.chat_event(raw, self.rt, self.clock()))

    # ------------------------------------------------------------ reading the outcome

    def session(self, dispute_id: str) -> MediationSession:
        return MediationSession.get(MediationSession.dispute_id == dispute_id)

    def state(self, dispute_id: str) -> str | None:
        row = MediationSession.get_or_none(MediationSession.dispute_id == dispute_id)
        return row.state if row else None

    def to(self, party: Party) -> list[str]:
        return party.read(self.relays.published)

    def solver(self, keys: Keys) -> list[str]:
        """The DMs published to a solver, as their client shows them."""
        inbox = SolverInbox(keys)
        return [dm.text for raw in self.relays.published
                if (dm := inbox.read(Event.from_json(raw))) is not None]

    def subjects(self, keys: Keys) -> list[str]:
        return [text.split("\n", 1)[0].split(" \u00b7 ", 1)[1] for text in self.solver(keys)]

    def dms(self, recipient: str, purpose: str | None = None) -> list[Outbox]:
        query = Outbox.select().where(Outbox.recipient == recipient)
        if purpose is not None:
            query = query.where(Outbox.purpose == purpose)
        return list(query.order_by(Outbox.id))

    def lifecycle(self, dispute_id: str) -> str:
        return Dispute.get_by_id(dispute_id).lifecycle_state


def opened(m: Mediation, dispute_id: str) -> tuple[Party, Party]:
    """Run the start job of a dispute just opened, let the node accept the take, and return the
    two parties (the model must have been scripted to ask)."""
    m.run_due()
    buyer = Party("buyer", m.rt.settings.serbero_pubkey)
    seller = Party("seller", m.rt.settings.serbero_pubkey)
    m.took(dispute_id, buyer, seller)
    return buyer, seller

