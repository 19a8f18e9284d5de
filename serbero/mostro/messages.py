"""Mostro message codec: the JSON of one Mostro message, built and parsed exactly as
mostro-core's serde does it (field order, `null`s, `id` omitted when absent, compact, UTF-8 not
escaped), so a signature over it verifies on the node.

`MostroMessage` cannot hold a fund-moving action: constructing or serialising one that names
`FORBIDDEN_ACTIONS` raises, and parsing one is a rejection. Serbero never moves funds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from serbero.errors import EventRejected, ProtocolError

#: Protocol version stamped on messages sent over the v2 transport (mostro-core PROTOCOL_VER).
PROTOCOL_VERSION = 2
#: The externally tagged wrappers of mostro-core's `Message` enum.
WRAPPERS = ("order", "dispute", "cant-do", "rate", "dm", "restore")
#: Fields of `MessageKind`, in serde's serialisation order.
FIELDS = ("version", "request_id", "trade_index", "id", "action", "payload")
#: The actions that settle or cancel a trade. This is the only place in the package that spells
#: them; tests/mostro/test_no_fund_actions.py fails if they appear anywhere else.
FORBIDDEN_ACTIONS = frozenset({"admin-settle", "admin-cancel"})
#: Every other action of mostro-core's `Action` enum (kebab-case), past and present.
ACTIONS = frozenset({
    "new-order", "take-sell", "take-buy", "pay-invoice", "fiat-sent", "fiat-sent-ok",
    "release", "released", "cancel", "canceled", "cooperative-cancel-initiated-by-you",
    "cooperative-cancel-initiated-by-peer", "dispute-initiated-by-you",
    "dispute-initiated-by-peer", "cooperative-cancel-accepted", "buyer-invoice-accepted",
    "purchase-completed", "hold-invoice-payment-accepted", "hold-invoice-payment-settled",
    "hold-invoice-payment-canceled", "waiting-seller-to-pay", "waiting-buyer-invoice",
    "add-invoice", "buyer-took-order", "rate", "rate-user", "rate-received", "cant-do",
    "dispute", "admin-canceled", "admin-settled", "admin-add-solver", "admin-take-dispute",
    "admin-took-dispute", "payment-failed", "invoice-updated", "send-dm", "trade-pubkey",
    "restore-session", "last-trade-index", "bond-slashed", "add-bond-invoice",
    "cashu-pm-signature",
})
#: A message larger than this is hostile: a SolverDisputeInfo reply is about 1 KiB.
MAX_MESSAGE_CHARS = 65_536
U64_MAX = 2**64 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

#: Use with `fullmatch` (`match` with `$` would accept a trailing newline).
UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
HEX64_RE = re.compile(r"[0-9a-f]{64}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _refuse_fund_action(action: object) -> None:
    if isinstance(action, str) and action in FORBIDDEN_ACTIONS:
        raise ProtocolError(f"refusing to handle `{action}`: Serbero never moves funds")


@dataclass(frozen=True)
class MostroMessage:
    """One Mostro message: the wrapper (`dispute`, `order`, …) around a `MessageKind`.

    `payload` is the raw JSON value (None or a one-key object), kept as received so the
    message re-serialises to the bytes that were signed.
    """

    wrapper: str
    action: str
    id: str | None = None
    request_id: int | None = None
    trade_index: int | None = None
    payload: dict[str, Any] | None = None
    version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        _refuse_fund_action(self.action)
        if not isinstance(self.wrapper, str) or self.wrapper not in WRAPPERS:
            raise ProtocolError(f"unknown message wrapper {self.wrapper!r}")
        if not isinstance(self.action, str) or self.action not in ACTIONS:
            raise ProtocolError(f"unknown action {str(self.action)[:64]!r}")
        if not _is_int(self.version) or not 0 <= self.version <= 255:
            raise ProtocolError("version must be an integer 0..255")
        if self.request_id is not None and (
                not _is_int(self.request_id) or not 0 <= self.request_id <= U64_MAX):
            raise ProtocolError("request_id must be an unsigned 64-bit integer or None")
        if self.trade_index is not None and (
                not _is_int(self.trade_index) or not I64_MIN <= self.trade_index <= I64_MAX):
            raise ProtocolError("trade_index must be a signed 64-bit integer or None")
        if self.id is not None and (not isinstance(self.id, str) or not UUID_RE.fullmatch(self.id)):
            raise ProtocolError("id must be a hyphenated UUID or None")
        if self.id is not None and self.id != self.id.lower():
            object.__setattr__(self, "id", self.id.lower())  # serde prints UUIDs in lowercase
        if self.payload is not None and (not isinstance(self.payload, dict)
                                         or len(self.payload) != 1):
            raise ProtocolError("payload must be None or an object with exactly one key")

    def to_obj(self) -> dict[str, Any]:
        """The message as JSON-ready dicts, keys in serde's order."""
        _refuse_fund_action(self.action)  # also guards instances altered behind __post_init__
        kind: dict[str, Any] = {"version": self.version, "request_id": self.request_id,
                                "trade_index": self.trade_index}
        if self.id is not None:
            kind["id"] = self.id
        kind["action"] = self.action
        kind["payload"] = self.payload
        return {self.wrapper: kind}

    def to_json(self) -> str:
        """The exact bytes mostro-core produces: compact, unescaped UTF-8, serde's key order."""
        return dumps(self.to_obj())


def dumps(value: Any) -> str:
    """Compact JSON without ASCII escaping, as serde_json writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise EventRejected("duplicate_key", next(k for k in keys if keys.count(k) > 1)[:32])
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise EventRejected("malformed_json", f"{name} is not JSON")


def loads(text: Any, *, max_chars: int = MAX_MESSAGE_CHARS) -> Any:
    """Strict JSON: bounded size, no duplicate keys, no NaN; every failure is an EventRejected."""
    if not isinstance(text, str):
        raise EventRejected("malformed_json", f"expected text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise EventRejected("content_too_large", f"{len(text)} characters")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except EventRejected:
        raise
    except (ValueError, RecursionError) as exc:
        raise EventRejected("malformed_json", str(exc)[:120]) from None


def parse_message(value: Any) -> MostroMessage:
    """A decoded JSON value as a MostroMessage, or EventRejected naming what is wrong.

    Stricter than serde on purpose: mostrod always writes its fields in order and without
    extras, so re-ordered or unknown fields mean the JSON did not come from a Mostro node.
    `request_id`, `trade_index`, `id` and `payload` may be missing (older senders omit them).
    """
    if not isinstance(value, dict) or len(value) != 1:
        raise EventRejected("bad_message", "a message is an object with exactly one wrapper")
    [(wrapper, kind)] = value.items()
    if wrapper not in WRAPPERS:
        raise EventRejected("bad_message", f"unknown wrapper {str(wrapper)[:32]!r}")
    if not isinstance(kind, dict):
        raise EventRejected("bad_message", "the wrapper must hold an object")
    unknown = [k for k in kind if k not in FIELDS]
    if unknown:
        raise EventRejected("unknown_field", str(unknown[0])[:32])
    positions = [FIELDS.index(k) for k in kind]
    if positions != sorted(positions):
        raise EventRejected("reordered_fields", ",".join(kind))
    for required in ("version", "action"):
        if required not in kind:
            raise EventRejected("missing_field", required)
    action = kind["action"]
    if not isinstance(action, str):
        raise EventRejected("unknown_action", f"action is a {type(action).__name__}")
    if action in FORBIDDEN_ACTIONS:
        raise EventRejected("forbidden_action", str(action))
    if action not in ACTIONS:
        raise EventRejected("unknown_action", str(action)[:64])
    try:
        return MostroMessage(wrapper=wrapper, action=action, id=kind.get("id"),
                             request_id=kind.get("request_id"),
                             trade_index=kind.get("trade_index"), payload=kind.get("payload"),
                             version=kind["version"])
    except ProtocolError as exc:
        raise EventRejected("bad_message", str(exc)) from None


def message_from_json(text: str) -> MostroMessage:
    """Parse the JSON text of one message (no content tuple around it)."""
    return parse_message(loads(text))


def take_dispute_request(dispute_id: str, *, request_id: int,
                         version: int = PROTOCOL_VERSION) -> MostroMessage:
    """`admin-take-dispute` for a dispute (its `d` tag): the one request Serbero sends Mostro."""
    if not isinstance(dispute_id, str) or not UUID_RE.fullmatch(dispute_id):
        raise ProtocolError("dispute id must be a UUID")
    return MostroMessage(wrapper="dispute", action="admin-take-dispute", id=dispute_id,
                         request_id=request_id, version=version)


def send_dm(text: str, *, dispute_id: str | None) -> MostroMessage:
    """`send-dm` with a `text_message` payload: how Serbero writes to a solver in protocol v2
    (`id` = the dispute, so the solver's client files it under that dispute)."""
    if not isinstance(text, str):
        raise ProtocolError("a send-dm text must be a string")
    linked = dispute_id if isinstance(dispute_id, str) and UUID_RE.match(dispute_id) else None
    return MostroMessage(wrapper="dm", action="send-dm", id=linked,
                         payload={"text_message": text})
