"""Sending stored rows through their channels and recording each outcome once.

Never builds or signs what it sends (the purpose's module did, in the transaction that decided
to send) and never changes state beyond its row and the purpose's hooks. A retry sends the
very same bytes, so nobody ever receives two copies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from serbero import clock
from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Outbox
from serbero.errors import PublishError
from serbero.followup import NOTHING, FollowUp, Publish, combine
from serbero.outbox import purposes
from serbero.outbox.channels import ORDER, Channels, Delivered

log = logging.getLogger(__name__)

#: First retry delay after a transient failure; doubles per attempt up to the maximum.
RETRY_BASE_S = 5
RETRY_MAX_S = 300
#: A row still unsent this long after it was written (or requeued) is given up as failed.
GIVE_UP_AFTER_S = 24 * 3600
#: Rows re-published per outbox tick.
SCAN_BATCH = 500
#: How long a row handed to a publish job is left alone by the next scans.
LEASE_S = 60

PENDING, SENT, FAILED, CANCELLED = "pending", "sent", "failed", "cancelled"

Rows = Sequence[Outbox]


@dataclass(frozen=True, kw_only=True)
class Published(FollowUp):
    """Each row's resulting status, in the order asked, and what the hooks left to do."""

    statuses: tuple[str, ...] = field(default=())


def retry_delay_s(attempts: int) -> int:
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, attempts - 1))


def _settle(row: Outbox, status: str, **columns: object) -> bool:
    """Move a pending row to a final status; True for the one caller that wins."""
    return (Outbox.update(status=status, **columns)
            .where((Outbox.id == row.id) & (Outbox.status == PENDING)).execute()) == 1


def _by(rows: Iterable[Outbox], attribute: str) -> dict[str, list[Outbox]]:
    grouped: dict[str, list[Outbox]] = {}
    for row in rows:
        grouped.setdefault(getattr(row, attribute), []).append(row)
    return grouped


def publish(row_id: int, *, channels: Channels, settings: Settings, now: int) -> str:
    """Send one pending row and record what happened; return the row's resulting status."""
    return publish_many([row_id], channels=channels, settings=settings, now=now).statuses[0]


def publish_many(row_ids: Sequence[int], *, channels: Channels, settings: Settings, now: int,
                 signed: Mapping[str, object] | None = None) -> Published:
    """Send pending rows, each through its channel (a channel sends its rows together), and
    record each outcome. `signed` (message id → the event the caller just signed and stored)
    spares parsing the stored JSON again.

    Safe to run twice at once: both may send the same bytes (relays keep one copy, webhook
    receivers see one idempotency key), and only one of them records the outcome and runs the
    purpose's hook.
    """
    rows = list(Outbox.select().where(Outbox.id.in_(list(row_ids))))
    status = {row.id: row.status for row in rows}
    pending = [row for row in rows if row.status == PENDING and _known(row.id, row.purpose)]
    unwanted, follow_ups = _cancel_unwanted(pending, now)
    status.update((row_id, CANCELLED) for row_id in unwanted)
    by_channel = _by((row for row in pending if row.id not in unwanted), "channel")
    for name in sorted(by_channel, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        batch = by_channel[name]
        channel = channels.get(name)
        if channel is None:
            results: list[Delivered | PublishError] = [PublishError(
                f"no `{name}` channel in this process", permanent=False)] * len(batch)
        else:
            results = channel.deliver(batch, signed=signed or {})
        follow_ups.append(_record(batch, results, status, settings, now))
    return Published(statuses=tuple(status.get(row_id, "missing") for row_id in row_ids),
                     **combine(follow_ups).parts())


def _record(batch: Rows, results: Sequence[Delivered | PublishError], status: dict[int, str],
            settings: Settings, now: int) -> FollowUp:
    """Record one channel's outcomes in one transaction, so a later channel of the same batch
    (a slow webhook) never holds these back."""
    follow_ups: list[FollowUp | None] = []
    accepted: dict[tuple[str, ...], list[Outbox]] = {}
    with database.atomic():
        for row, result in zip(batch, results, strict=True):
            if isinstance(result, PublishError):
                status[row.id], follow_up = _record_failure(row, result, now)
                follow_ups.append(follow_up)
            else:
                status[row.id] = SENT
                accepted.setdefault(result.accepted_by, []).append(row)
        won = {row_id for by, rows in accepted.items() for row_id in _settle_sent(rows, by, now)}
        for purpose, sent in _by((row for row in batch if row.id in won), "purpose").items():
            follow_ups.append(purposes.get(purpose).on_sent(sent, now, settings))
    return combine(follow_ups)


def _settle_sent(rows: Rows, accepted_by: tuple[str, ...], now: int) -> set[int]:
    """Mark rows accepted by the same relays (or webhook) as sent, in one statement; return the
    ids this caller settled (a concurrent publisher may have settled some first)."""
    return {row.id for row in
            Outbox.update(status=SENT, sent_at=now, sent_at_ms=clock.now_ms(),
                          attempts=Outbox.attempts + 1, accepted_by=json.dumps(list(accepted_by)))
            .where(Outbox.id.in_([row.id for row in rows]) & (Outbox.status == PENDING))
            .returning(Outbox.id).execute()}


def _cancel_unwanted(rows: Rows, now: int) -> tuple[dict[int, str], list[FollowUp | None]]:
    """Settle as cancelled the rows their purpose no longer wants sent; return them with
    reasons, and what the purposes' hooks left to do."""
    unwanted: dict[int, str] = {}
    for purpose, batch in _by(rows, "purpose").items():
        unwanted.update(purposes.get(purpose).unwanted(batch))
    follow_ups: list[FollowUp | None] = []
    if not unwanted:
        return unwanted, follow_ups
    with database.atomic():
        for row in rows:
            reason = unwanted.get(row.id)
            if reason:
                follow_ups.append(cancel(row, reason, now))
    return unwanted, follow_ups


def cancel(row: Outbox, reason: str, now: int) -> FollowUp | None:
    """Settle a pending row as cancelled and run its purpose's hook; return what the hook left
    to do, or None if the row had already left `pending` (sent, failed or cancelled by someone
    else). Call inside a transaction."""
    if not _settle(row, CANCELLED, last_error=reason):
        return None
    follow_up = purposes.get(row.purpose).on_cancelled(row, reason, now)
    log.info("outbox_cancelled", extra={"outbox_id": row.id, "reason": reason})
    return follow_up or NOTHING


def _record_failure(row: Outbox, exc: PublishError, now: int) -> tuple[str, FollowUp | None]:
    attempts = row.attempts + 1
    error = str(exc)[:500]
    expired = now - (row.requeued_at or row.created_at) >= GIVE_UP_AFTER_S
    if exc.permanent or expired:
        final = error if exc.permanent else f"gave up after {attempts} attempts: {error}"
        follow_up = None
        if _settle(row, FAILED, attempts=attempts, last_error=final):
            follow_up = purposes.get(row.purpose).on_failed(row, final, now)
        log.warning("outbox_failed", extra={"outbox_id": row.id, "channel": row.channel,
                                            "error": final})
        return FAILED, follow_up
    (Outbox.update(attempts=attempts, last_error=error,
                   next_attempt_at=now + retry_delay_s(attempts))
     .where((Outbox.id == row.id) & (Outbox.status == PENDING)).execute())
    log.info("outbox_retry_scheduled", extra={
        "outbox_id": row.id, "channel": row.channel, "attempts": attempts, "error": error})
    return PENDING, None


def _known(row_id: int, purpose: str) -> bool:
    """Rows of a purpose this version does not know are left for a worker that does."""
    if purposes.known(purpose):
        return True
    log.warning("outbox_unknown_purpose", extra={"outbox_id": row_id, "purpose": purpose[:64]})
    return False


def claim_due(now: int, limit: int = SCAN_BATCH) -> FollowUp:
    """Pending rows whose next attempt is due (failed attempts, or jobs lost with a broker),
    each leased for a while so that a slow queue does not get the same row twice."""
    candidates = list(Outbox.select(Outbox.id, Outbox.purpose)
                      .where((Outbox.status == PENDING) & (Outbox.next_attempt_at <= now)
                             & Outbox.purpose.in_(list(purposes.MODULES)))
                      .order_by(Outbox.next_attempt_at).limit(limit).tuples())
    claimed = []
    with database.atomic():
        for row_id, purpose in candidates:
            if (Outbox.update(next_attempt_at=now + LEASE_S)
                    .where((Outbox.id == row_id) & (Outbox.status == PENDING)
                           & (Outbox.next_attempt_at <= now)).execute()):
                claimed.append(Publish(row_id, purposes.get(purpose).lane))
    return FollowUp(publish=tuple(claimed))
