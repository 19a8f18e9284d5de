"""What a Mostro message addressed to Serbero means: a take accepted (`admin-took-dispute` with
`SolverDisputeInfo`), a refusal (`cant-do`), the parties closing a taken dispute themselves
(mostrod #945), or a text DM. Anything else is an EventRejected with a stable reason.

Also the party side of a take, `admin-took-dispute` with a `peer` payload, which the simulated
party (and any client) reads to learn the solver's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from serbero.errors import EventRejected
from serbero.mostro import payloads
from serbero.mostro.messages import MostroMessage
from serbero.mostro.payloads import Peer, SolverDisputeInfo

#: Action of a #945 notice → the dispute status it stands for.
CLOSED_BY_USERS = {"cooperative-cancel-accepted": "cooperatively-canceled",
                   "released": "released"}


@dataclass(frozen=True)
class TookDispute:
    request_id: int | None
    dispute_id: str
    info: SolverDisputeInfo


@dataclass(frozen=True)
class CantDo:
    request_id: int | None
    #: The `id` of the refused request: the dispute id for a take.
    id: str | None
    #: A CantDoReason, or None when Mostro gave none.
    reason: str | None


@dataclass(frozen=True)
class ClosedByUsers:
    dispute_id: str
    order_id: str | None
    status: str


@dataclass(frozen=True)
class TextDM:
    id: str | None
    text: str


@dataclass(frozen=True)
class PeerNotice:
    """`admin-took-dispute` as a party receives it: `id` is the order, `peer` the solver."""

    request_id: int | None
    order_id: str | None
    peer: Peer


Reply = TookDispute | CantDo | ClosedByUsers | TextDM


def solver_reply(msg: MostroMessage) -> Reply:
    """Interpret a message Mostro sent to Serbero's key."""
    if msg.action == "admin-took-dispute":
        dispute_id, info = payloads.dispute(msg.payload)
        if info is None:
            raise EventRejected("bad_payload", "admin-took-dispute without SolverDisputeInfo")
        if msg.id is not None and msg.id != dispute_id:
            raise EventRejected("dispute_mismatch", "message id differs from the payload's")
        return TookDispute(msg.request_id, dispute_id, info)
    if msg.action == "cant-do":
        return CantDo(msg.request_id, msg.id, payloads.cant_do(msg.payload))
    if msg.action in CLOSED_BY_USERS:
        dispute_id, _ = payloads.dispute(msg.payload)
        return ClosedByUsers(dispute_id, msg.id, CLOSED_BY_USERS[msg.action])
    if msg.action == "send-dm":
        return TextDM(msg.id, payloads.text_message(msg.payload))
    raise EventRejected("unexpected_action", msg.action)


def peer_notice(msg: MostroMessage) -> PeerNotice:
    """Interpret the `admin-took-dispute` a buyer or seller receives."""
    if msg.action != "admin-took-dispute":
        raise EventRejected("unexpected_action", msg.action)
    return PeerNotice(msg.request_id, msg.id, payloads.peer(msg.payload))
