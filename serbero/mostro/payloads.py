"""Typed views of the Mostro payloads Serbero reads: the dispute tuple with `SolverDisputeInfo`,
the `peer` notice, `cant_do` reasons and text messages. Every malformed payload is an
EventRejected with a stable reason; nothing else escapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serbero.errors import EventRejected
from serbero.mostro.messages import HEX64_RE, UUID_RE

#: mostro-core `CantDoReason` (snake_case), every value a node can send.
CANT_DO_REASONS = frozenset({
    "invalid_signature", "invalid_trade_index", "invalid_amount", "invalid_invoice",
    "invalid_payment_request", "invalid_peer", "invalid_rating", "invalid_text_message",
    "invalid_order_kind", "invalid_order_status", "invalid_pubkey", "invalid_parameters",
    "invalid_payload", "order_already_canceled", "cant_create_user", "is_not_your_order",
    "not_allowed_by_status", "out_of_range_fiat_amount", "out_of_range_sats_amount",
    "price_too_stale", "is_not_your_dispute", "dispute_taken_by_admin", "not_authorized",
    "dispute_creation_error", "not_found", "invalid_dispute_status", "invalid_action",
    "pending_order_exists", "invalid_fiat_currency", "too_many_requests",
    "invalid_cashu_token", "cashu_mint_unavailable", "invalid_mint_url",
    "cashu_escrow_not_locked", "cashu_signature_missing",
})


@dataclass(frozen=True)
class Reputation:
    rating: float
    reviews: int
    operating_days: int


@dataclass(frozen=True)
class Peer:
    """The `peer` payload: how Mostro tells a party which key it is talking to."""

    pubkey: str
    reputation: Reputation | None


@dataclass(frozen=True)
class SolverDisputeInfo:
    """What a take reply says about the disputed order. `buyer_invoice` and `preimage` are
    deliberately not kept: Serbero never forwards an invoice."""

    order_id: str
    kind: str | None
    status: str | None
    order_previous_status: str | None
    initiator_pubkey: str | None
    buyer_pubkey: str | None
    seller_pubkey: str | None
    initiator_full_privacy: bool | None
    counterpart_full_privacy: bool | None
    initiator_info: Reputation | None
    counterpart_info: Reputation | None
    premium: int | None
    payment_method: str | None
    amount: int | None
    fiat_amount: int | None
    fee: int | None
    routing_fee: int | None
    hash: str | None
    invoice_held_at: int | None
    taken_at: int | None
    created_at: int | None


def variant(payload: Any, name: str) -> Any:
    """The value of a one-key payload object if its key is `name`."""
    if not isinstance(payload, dict) or list(payload) != [name]:
        found = ",".join(payload) if isinstance(payload, dict) else type(payload).__name__
        raise EventRejected("bad_payload", f"expected `{name}`, got {found[:40]}")
    return payload[name]


def _typed(obj: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in kinds:
        raise EventRejected("bad_payload", f"{key} has the wrong type")
    if not isinstance(value, kinds):
        raise EventRejected("bad_payload", f"{key} has the wrong type")
    return value


def _pubkey(obj: dict[str, Any], key: str) -> str | None:
    value = _typed(obj, key, (str,))
    if value is not None and not HEX64_RE.fullmatch(value):
        raise EventRejected("bad_payload", f"{key} is not a hex public key")
    return value


def reputation(value: Any) -> Reputation | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventRejected("bad_payload", "reputation must be an object")
    rating = _typed(value, "rating", (int, float))
    reviews = _typed(value, "reviews", (int,))
    days = _typed(value, "operating_days", (int,))
    return Reputation(float(rating or 0), reviews or 0, days or 0)


def solver_dispute_info(value: Any) -> SolverDisputeInfo:
    """`SolverDisputeInfo` by field name; the types of the fields Serbero uses are checked."""
    if not isinstance(value, dict):
        raise EventRejected("bad_payload", "SolverDisputeInfo must be an object")
    order_id = value.get("id")
    if not isinstance(order_id, str) or not UUID_RE.fullmatch(order_id):
        raise EventRejected("bad_payload", "SolverDisputeInfo.id is not a UUID")
    for key in ("buyer_pubkey", "seller_pubkey"):
        if key not in value:
            raise EventRejected("bad_payload", f"SolverDisputeInfo.{key} is missing")
    return SolverDisputeInfo(
        order_id=order_id.lower(),
        kind=_typed(value, "kind", (str,)),
        status=_typed(value, "status", (str,)),
        order_previous_status=_typed(value, "order_previous_status", (str,)),
        initiator_pubkey=_pubkey(value, "initiator_pubkey"),
        buyer_pubkey=_pubkey(value, "buyer_pubkey"),
        seller_pubkey=_pubkey(value, "seller_pubkey"),
        initiator_full_privacy=_typed(value, "initiator_full_privacy", (bool,)),
        counterpart_full_privacy=_typed(value, "counterpart_full_privacy", (bool,)),
        initiator_info=reputation(value.get("initiator_info")),
        counterpart_info=reputation(value.get("counterpart_info")),
        premium=_typed(value, "premium", (int,)),
        payment_method=_typed(value, "payment_method", (str,)),
        amount=_typed(value, "amount", (int,)),
        fiat_amount=_typed(value, "fiat_amount", (int,)),
        fee=_typed(value, "fee", (int,)),
        routing_fee=_typed(value, "routing_fee", (int,)),
        hash=_typed(value, "hash", (str,)),
        invoice_held_at=_typed(value, "invoice_held_at", (int,)),
        taken_at=_typed(value, "taken_at", (int,)),
        created_at=_typed(value, "created_at", (int,)),
    )


def dispute(payload: Any) -> tuple[str, SolverDisputeInfo | None]:
    """The `dispute` payload: `[id, info|null]` as mostro-core sends it, or the bare id string
    the protocol book shows; mobile accepts both, and so does Serbero."""
    value = variant(payload, "dispute")
    if isinstance(value, str):
        dispute_id, info = value, None
    elif isinstance(value, list) and len(value) == 2:
        dispute_id, raw_info = value
        info = None if raw_info is None else solver_dispute_info(raw_info)
    else:
        raise EventRejected("bad_payload", "dispute must be [id, info|null] or an id")
    if not isinstance(dispute_id, str) or not UUID_RE.fullmatch(dispute_id):
        raise EventRejected("bad_payload", "dispute id is not a UUID")
    return dispute_id.lower(), info


def cant_do(payload: Any) -> str | None:
    """The reason of a `cant-do` (None when Mostro gave none); an unknown reason is refused."""
    reason = variant(payload, "cant_do")
    if reason is None:
        return None
    if not isinstance(reason, str) or reason not in CANT_DO_REASONS:
        raise EventRejected("unknown_cant_do_reason", str(reason)[:64])
    return reason


def peer(payload: Any) -> Peer:
    value = variant(payload, "peer")
    if not isinstance(value, dict):
        raise EventRejected("bad_payload", "peer must be an object")
    pubkey = _pubkey(value, "pubkey")
    if pubkey is None:
        raise EventRejected("bad_payload", "peer.pubkey is missing")
    return Peer(pubkey, reputation(value.get("reputation")))


def text_message(payload: Any) -> str:
    value = variant(payload, "text_message")
    if not isinstance(value, str):
        raise EventRejected("bad_payload", "text_message must be a string")
    return value
