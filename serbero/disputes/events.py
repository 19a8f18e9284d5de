"""Parsing and validating Mostro dispute events (kind 38386) into `DisputeEvent`s.

Everything here is a pure function of the raw JSON, the expected Mostro pubkey and the clock:
an event is either returned as a `DisputeEvent` or refused with `EventRejected` carrying a stable
reason code. No other exception escapes, whatever the input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nostr_sdk import Event, NostrSdkError

from serbero.errors import EventRejected

DISPUTE_KIND = 38386

#: A real dispute event is about 600 bytes; anything far larger is hostile.
MAX_EVENT_BYTES = 16_384
MAX_TAGS = 32
MAX_TAG_VALUES = 8
MAX_TAG_VALUE_CHARS = 256
#: Mostro always publishes dispute events with empty content.
MAX_CONTENT_CHARS = 1024
#: A revision dated further ahead than this would block every later revision.
MAX_FUTURE_SKEW_S = 3600

#: Status → stage; a revision only replaces one of a lower stage or an older timestamp.
STATUS_STAGE = {
    "initiated": 0,
    "in-progress": 1,
    "settled": 2,
    "seller-refunded": 2,
    "released": 2,
    "cooperatively-canceled": 2,
}
TERMINAL_STATUSES = frozenset(s for s, stage in STATUS_STAGE.items() if stage == 2)
INITIATORS = ("buyer", "seller")
#: Tags Serbero reads. Of several copies the first one counts (PROTO-2), as relays do for `d`
#: when they replace an addressable event; `z` is not read at all (DET-6).
READ_TAGS = ("d", "s", "initiator", "p", "published_at", "created_at")

#: Used with `fullmatch`: `match` with `$` would accept a trailing newline (issue 10, defect 9).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DisputeEvent:
    """One verified revision of a dispute, as Mostro published it."""

    event_id: str
    author: str
    created_at: int
    dispute_id: str
    status: str
    #: `buyer` or `seller`; None when the revision does not say (or says `unknown`).
    initiator: str | None
    #: The `p` tag of an `in-progress` revision: the solver who took the dispute.
    solver: str | None
    #: When the dispute was opened, from `published_at` or the older `created_at` tag.
    opened_at: int | None

    @property
    def stage(self) -> int:
        return STATUS_STAGE[self.status]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def load_verified_event(raw: str | bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> Event:
    """Parse a raw event and check its id and signature (nostr-sdk's `from_json` checks neither)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EventRejected("malformed_json", "not UTF-8") from None
    if not isinstance(raw, str):
        raise EventRejected("malformed_json", f"expected a JSON string, got {type(raw).__name__}")
    if len(raw) > max_bytes:
        raise EventRejected("oversized", f"{len(raw)} characters")
    try:
        event = Event.from_json(raw)
    except (NostrSdkError, ValueError, TypeError, OverflowError) as exc:
        raise EventRejected("malformed_json", str(exc)[:200]) from None
    if not event.verify():
        raise EventRejected("bad_signature", event.id().to_hex())
    return event


def _tags(tags: list[list[str]]) -> dict[str, list[str]]:
    """Values of the first copy of each tag Serbero reads, after the size limits."""
    if len(tags) > MAX_TAGS:
        raise EventRejected("too_many_tags", str(len(tags)))
    found: dict[str, list[str]] = {}
    for tag in tags:
        if len(tag) > MAX_TAG_VALUES or any(len(v) > MAX_TAG_VALUE_CHARS for v in tag):
            raise EventRejected("oversized_tag", tag[0][:32] if tag else "")
        if not tag:
            continue
        if tag[0] in READ_TAGS:
            found.setdefault(tag[0], tag[1:])
    return found


def _first(tags: dict[str, list[str]], name: str) -> str | None:
    values = tags.get(name)
    return values[0] if values else None


def _timestamp(value: str | None) -> int | None:
    """A decimal Unix timestamp tag value; anything else counts as absent."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    return int(value)


def parse_dispute_event(raw: str | bytes, *, mostro_pubkey: str, now: int) -> DisputeEvent:
    """Validate a kind-38386 event from the configured Mostro node, or raise EventRejected."""
    # The fields are read from the verified event's own serialisation: one call across the
    # bindings instead of one per tag and field, which made up two thirds of the parse.
    fields = json.loads(load_verified_event(raw).as_json())
    if fields["kind"] != DISPUTE_KIND:
        raise EventRejected("wrong_kind", str(fields["kind"]))
    author = fields["pubkey"]
    if author != mostro_pubkey:
        raise EventRejected("wrong_author", author)
    if len(fields["content"]) > MAX_CONTENT_CHARS:
        raise EventRejected("oversized_content", str(len(fields["content"])))
    created_at = fields["created_at"]
    if created_at > now + MAX_FUTURE_SKEW_S:
        raise EventRejected("future_timestamp", str(created_at))

    tags = _tags(fields["tags"])
    dispute_id = _first(tags, "d")
    if dispute_id is None:
        raise EventRejected("missing_tag", "d")
    if not _UUID.fullmatch(dispute_id):
        raise EventRejected("bad_dispute_id", dispute_id[:64])
    status = _first(tags, "s")
    if status is None:
        raise EventRejected("missing_tag", "s")
    if status not in STATUS_STAGE:
        raise EventRejected("unknown_status", status[:64])

    initiator = _first(tags, "initiator")
    if status == "initiated" and initiator is None:
        raise EventRejected("missing_tag", "initiator")
    # mostrod publishes `unknown` when it cannot tell who opened a dispute the users closed.
    tolerated = initiator == "unknown" and status != "initiated"
    if initiator not in (*INITIATORS, None) and not tolerated:
        raise EventRejected("unknown_initiator", initiator[:64])

    solver = _first(tags, "p")
    return DisputeEvent(
        event_id=fields["id"],
        author=author,
        created_at=created_at,
        dispute_id=dispute_id,
        status=status,
        initiator=initiator if initiator in INITIATORS else None,
        solver=solver if solver is not None and _HEX64.fullmatch(solver) else None,
        opened_at=(_timestamp(_first(tags, "published_at"))
                   or _timestamp(_first(tags, "created_at"))),
    )
