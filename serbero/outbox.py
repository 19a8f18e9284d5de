"""Outbox publishing: send stored, signed events to relays and record the outcome.

Never builds or signs events (the kind's own module does, in the transaction that decided to
send) and never changes state beyond its row and the kind's hooks. A retry publishes the very
same signed event, so nobody ever receives two copies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from nostr_sdk import Event

from serbero import clock
from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Outbox
from serbero.disputes import notify
from serbero.errors import PublishError
from serbero.escalation import delivery as handoff_dm
from serbero.mostro import take as mostro_take
from serbero.nostr.relays import PublishOutcome

log = logging.getLogger(__name__)

#: First retry delay after a transient failure; doubles per attempt up to the maximum.
RETRY_BASE_S = 5
RETRY_MAX_S = 300
#: A row still unsent this long after it was written is given up as failed.
GIVE_UP_AFTER_S = 24 * 3600
#: Rows re-published per outbox tick.
SCAN_BATCH = 500
#: How long a row handed to a publish job is left alone by the next scans.
LEASE_S = 60

PENDING, SENT, FAILED, CANCELLED = "pending", "sent", "failed", "cancelled"


class Publisher(Protocol):
    def publish_many(self, events: Sequence[str | Event]) -> list[PublishOutcome | PublishError]:
        """Publish every event at once; one outcome or error per event, in order."""


Rows = Sequence[Outbox]


@dataclass(frozen=True)
class OutboxKind:
    """What one kind of outbox row needs around publication. The first two hooks take every
    row of a batch at once, so a kind can answer with one query instead of one per row."""

    #: Rows no longer worth sending, by id, with the reason; the others are published.
    unwanted: Callable[[Rows], dict[int, str]]
    #: Rows a relay accepted (each recorded `sent` by this caller, exactly once).
    on_sent: Callable[[Rows, int, Settings], None]
    on_failed: Callable[[Outbox, str, int], None]
    on_cancelled: Callable[[Outbox, str, int], None]


def one_by_one(still_wanted: Callable[[Outbox], str | None],
               on_sent: Callable[[Outbox, int, Settings], None],
               on_failed: Callable[[Outbox, str, int], None],
               on_cancelled: Callable[[Outbox, str, int], None]) -> OutboxKind:
    """An OutboxKind from hooks written for one row at a time."""
    def unwanted(rows: Rows) -> dict[int, str]:
        return {row.id: reason for row in rows if (reason := still_wanted(row))}

    def sent(rows: Rows, now: int, settings: Settings) -> None:
        for row in rows:
            on_sent(row, now, settings)
    return OutboxKind(unwanted, sent, on_failed, on_cancelled)


KINDS: dict[str, OutboxKind] = {
    notify.KIND: OutboxKind(notify.unwanted, notify.on_sent, notify.on_failed,
                            notify.on_cancelled),
    mostro_take.KIND: one_by_one(mostro_take.still_wanted, mostro_take.on_sent,
                                 mostro_take.on_failed, mostro_take.on_cancelled),
    handoff_dm.KIND: one_by_one(handoff_dm.still_wanted, handoff_dm.on_sent,
                                handoff_dm.on_failed, handoff_dm.on_cancelled),
}


def retry_delay_s(attempts: int) -> int:
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, attempts - 1))


def _settle(row: Outbox, status: str, **columns: object) -> bool:
    """Move a pending row to a final status; True for the one caller that wins."""
    return (Outbox.update(status=status, **columns)
            .where((Outbox.id == row.id) & (Outbox.status == PENDING)).execute()) == 1


def publish(row_id: int, *, relay: Publisher, settings: Settings, now: int) -> str:
    """Publish one pending row and record what happened; return the row's resulting status."""
    return publish_many([row_id], relay=relay, settings=settings, now=now)[0]


def publish_many(row_ids: Sequence[int], *, relay: Publisher, settings: Settings, now: int,
                 signed: Mapping[str, Event] | None = None) -> list[str]:
    """Publish pending rows together (the relay sends them concurrently) and record each
    outcome; return each row's resulting status, in order. `signed` (event id → the event the
    caller just signed and stored) spares parsing the stored JSON again.

    Safe to run twice at once: both may publish the same signed event (relays keep one copy),
    and only one of them records the outcome and runs the kind's hook.
    """
    rows = list(Outbox.select().where(Outbox.id.in_(list(row_ids))))
    status = {row.id: row.status for row in rows}
    pending = [row for row in rows if row.status == PENDING]
    unwanted = _cancel_unwanted(pending, now)
    status.update((row_id, CANCELLED) for row_id in unwanted)
    wanted = [row for row in pending if row.id not in unwanted]
    signed = signed or {}
    results = relay.publish_many([signed.get(row.event_id) or row.event_json
                                  for row in wanted]) if wanted else []
    by_relays: dict[tuple[str, ...], list[Outbox]] = {}
    with database.atomic():
        for row, result in zip(wanted, results, strict=True):
            if isinstance(result, PublishError):
                status[row.id] = _record_failure(row, KINDS[row.kind], result, now)
            else:
                status[row.id] = SENT
                by_relays.setdefault(result.accepted, []).append(row)
        won = {row_id for relays, batch in by_relays.items()
               for row_id in _settle_sent(batch, relays, now)}
        for kind, sent in _by_kind(row for row in wanted if row.id in won).items():
            KINDS[kind].on_sent(sent, now, settings)
    return [status.get(row_id, "missing") for row_id in row_ids]


def _by_kind(rows: Iterable[Outbox]) -> dict[str, list[Outbox]]:
    grouped: dict[str, list[Outbox]] = {}
    for row in rows:
        grouped.setdefault(row.kind, []).append(row)
    return grouped


def _settle_sent(rows: Rows, relays: tuple[str, ...], now: int) -> set[int]:
    """Mark rows accepted by the same relays as sent, in one statement; return the ids this
    caller settled (a concurrent publisher may have settled some first)."""
    return {row.id for row in
            Outbox.update(status=SENT, sent_at=now, sent_at_ms=clock.now_ms(),
                          attempts=Outbox.attempts + 1, relays=json.dumps(list(relays)))
            .where(Outbox.id.in_([row.id for row in rows]) & (Outbox.status == PENDING))
            .returning(Outbox.id).execute()}


def _cancel_unwanted(rows: Rows, now: int) -> dict[int, str]:
    """Settle as cancelled the rows their kind no longer wants sent; return them with reasons."""
    unwanted: dict[int, str] = {}
    for kind, batch in _by_kind(rows).items():
        unwanted.update(KINDS[kind].unwanted(batch))
    if not unwanted:
        return unwanted
    with database.atomic():
        for row in rows:
            reason = unwanted.get(row.id)
            if reason:
                cancel(row, reason, now)
    return unwanted


def cancel(row: Outbox, reason: str, now: int) -> bool:
    """Settle a pending row as cancelled and run its kind's hook; False if it had already left
    `pending` (published, failed or cancelled by someone else). Call inside a transaction."""
    if not _settle(row, CANCELLED, last_error=reason):
        return False
    KINDS[row.kind].on_cancelled(row, reason, now)
    log.info("outbox_cancelled", extra={"outbox_id": row.id, "reason": reason})
    return True


def _record_failure(row: Outbox, kind: OutboxKind, exc: PublishError, now: int) -> str:
    attempts = row.attempts + 1
    error = str(exc)[:500]
    expired = now - row.created_at >= GIVE_UP_AFTER_S
    with database.atomic():
        if exc.permanent or expired:
            final = error if exc.permanent else f"gave up after {attempts} attempts: {error}"
            if _settle(row, FAILED, attempts=attempts, last_error=final):
                kind.on_failed(row, final, now)
            log.warning("outbox_failed", extra={"outbox_id": row.id, "error": final})
            return FAILED
        (Outbox.update(attempts=attempts, last_error=error,
                       next_attempt_at=now + retry_delay_s(attempts))
         .where((Outbox.id == row.id) & (Outbox.status == PENDING)).execute())
    log.info("outbox_retry_scheduled", extra={
        "outbox_id": row.id, "attempts": attempts, "error": error})
    return PENDING


def claim_due(now: int, limit: int = SCAN_BATCH) -> list[int]:
    """Pending rows whose next attempt is due (failed attempts, or jobs lost with a broker),
    each leased for a while so that a slow queue does not get the same row twice."""
    candidates = [row_id for (row_id,) in
                  Outbox.select(Outbox.id)
                  .where((Outbox.status == PENDING) & (Outbox.next_attempt_at <= now))
                  .order_by(Outbox.next_attempt_at).limit(limit).tuples()]
    claimed = []
    with database.atomic():
        for row_id in candidates:
            if (Outbox.update(next_attempt_at=now + LEASE_S)
                    .where((Outbox.id == row_id) & (Outbox.status == PENDING)
                           & (Outbox.next_attempt_at <= now)).execute()):
                claimed.append(row_id)
    return claimed
