"""Solver notifications: writing one notice per solver into the outbox, and what happens to the
dispute when a notice is published, refused, or no longer worth sending.

`fan_out` runs inside the transaction of the state change that caused the notices. The hooks at
the bottom are the `solver_dm` outbox kind, called by `serbero.outbox` around publication.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nostr_sdk import Event, Keys

from serbero import clock
from serbero.config import Settings, SolverEntry
from serbero.db.models import AuditEvent, Dispute, Notification, Outbox, audit
from serbero.disputes import lifecycle, notices
from serbero.disputes.renotify import first_renotify_at, following_renotify_at
from serbero.nostr.dm import solver_dm
from serbero.nostr.keys import parse_public_key, short

log = logging.getLogger(__name__)

KIND = "solver_dm"
#: Before the outbox tick re-sends a fresh row whose publish job may have been lost.
FIRST_RETRY_AFTER_S = 15

#: notif_type → lifecycle states in which the notice still means something to a solver.
RELEVANT_IN = {
    notices.INITIAL: frozenset({lifecycle.NEW, lifecycle.NOTIFIED, lifecycle.TAKEN,
                                lifecycle.WAITING, lifecycle.ESCALATED}),
    notices.RENOTIFICATION: frozenset({lifecycle.NOTIFIED}),
    notices.ASSIGNMENT: frozenset({lifecycle.TAKEN, lifecycle.WAITING, lifecycle.ESCALATED}),
    notices.RESOLUTION: frozenset(lifecycle.STATES),
}


def recipients(solvers: tuple[SolverEntry, ...]) -> list[tuple[SolverEntry, str | None, str]]:
    """(solver, hex pubkey or None, parse error) per configured solver, first copy of a key only."""
    seen: set[str] = set()
    out = []
    for solver in solvers:
        try:
            hex_pubkey: str | None = parse_public_key(solver.pubkey)
            error = ""
        except ValueError as exc:
            hex_pubkey, error = None, str(exc)
        if hex_pubkey is not None:
            if hex_pubkey in seen:
                continue
            seen.add(hex_pubkey)
        out.append((solver, hex_pubkey, error))
    return out


def sign(dispute: Dispute, notif_type: str, *, solvers: tuple[SolverEntry, ...], signer: Keys,
         now: int) -> dict[str, Event]:
    """One signed DM per solver whose pubkey parses, by hex pubkey."""
    text = notices.TEXTS[notif_type](dispute, now)
    return {hex_pubkey: solver_dm(signer, hex_pubkey, text, dispute_id=dispute.dispute_id)
            for _, hex_pubkey, _ in recipients(solvers) if hex_pubkey is not None}


def fan_out(dispute: Dispute, notif_type: str, *, solvers: tuple[SolverEntry, ...],
            signer: Keys, now: int, include_invalid: bool = True,
            signed: dict[str, Event] | None = None) -> list[int]:
    """Store one DM per solver in the outbox (signed here, or already by `sign`) and record a
    pending notification; return the outbox ids to publish after commit. A solver whose pubkey
    does not parse gets a failed notification (`invalid pubkey: …`) and never blocks the
    others (NOTIF-4)."""
    wraps = signed if signed is not None else sign(dispute, notif_type, solvers=solvers,
                                                    signer=signer, now=now)
    valid, failed = [], []
    for solver, hex_pubkey, error in recipients(solvers):
        if hex_pubkey is not None:
            valid.append((solver, hex_pubkey, wraps[hex_pubkey]))
        elif include_invalid:
            failed.append(dict(dispute=dispute.dispute_id, solver_pubkey=solver.pubkey,
                               status="failed", error_message=f"invalid pubkey: {error}",
                               notif_type=notif_type, outbox=None, created_at=now,
                               sent_at=now))
            log.warning("notification_failed: invalid solver pubkey", extra={
                "dispute_id": dispute.dispute_id, "notif_type": notif_type})
    outbox_ids: list[int] = []
    if valid:
        stored = {row.event_id: row.id for row in Outbox.insert_many([
            dict(kind=KIND, purpose=notif_type, dispute=dispute.dispute_id, recipient=hex_pubkey,
                 event_id=wrap.id().to_hex(), event_json=wrap.as_json(), created_at=now,
                 created_at_ms=clock.now_ms(), next_attempt_at=now + FIRST_RETRY_AFTER_S)
            for _, hex_pubkey, wrap in valid]).returning(Outbox.id, Outbox.event_id).execute()}
        outbox_ids = [stored[wrap.id().to_hex()] for _, _, wrap in valid]
    # insert_many takes its columns from the first row: every row names them all.
    rows = failed + [dict(dispute=dispute.dispute_id, solver_pubkey=solver.pubkey,
                          status="pending", error_message=None, notif_type=notif_type,
                          outbox=row_id, created_at=now, sent_at=None)
                     for (solver, _, _), row_id in zip(valid, outbox_ids, strict=True)]
    if rows:
        Notification.insert_many(rows).execute()
    if not outbox_ids and not _skip_explained(dispute.dispute_id, notif_type):
        audit("notification_skipped", dispute_id=dispute.dispute_id, at=now,
              notif_type=notif_type, reason="no_valid_solvers")
        log.warning("no solvers configured; dispute persisted but not notified", extra={
            "dispute_id": dispute.dispute_id, "notif_type": notif_type})
    return outbox_ids


def _skip_explained(dispute_id: str, notif_type: str) -> bool:
    """Whether the dispute already says why nobody got this type of notice: the periodic
    retries ask again every hour, and the answer is written once (issue 10)."""
    return any(row.payload.get("notif_type") == notif_type for row in AuditEvent.select()
               .where((AuditEvent.dispute_id == dispute_id)
                      & (AuditEvent.kind == "notification_skipped")))


def pending_notices(dispute_id: str, notif_type: str) -> list[Outbox]:
    """The dispute's notices of one type still waiting in the outbox (no relay took them)."""
    return list(Outbox.select().where((Outbox.dispute == dispute_id) & (Outbox.kind == KIND)
                                      & (Outbox.purpose == notif_type)
                                      & (Outbox.status == "pending")))


def unwanted(rows: Sequence[Outbox]) -> dict[int, str]:
    """Notices no longer worth sending because their dispute moved on, with the reason."""
    states = dict(Dispute.select(Dispute.dispute_id, Dispute.lifecycle_state)
                  .where(Dispute.dispute_id.in_({row.dispute_id for row in rows})).tuples())
    return {row.id: f"dispute is {state}" for row in rows
            if (state := states.get(row.dispute_id)) is not None
            and state not in RELEVANT_IN.get(row.purpose, lifecycle.STATES)}


def on_sent(rows: Sequence[Outbox], now: int, settings: Settings) -> None:
    """Record delivery; the first initial notice that lands moves its dispute to `notified`,
    and the first reminder of a round that lands counts the round (`reminders.py`)."""
    (Notification.update(status="sent", sent_at=now)
     .where(Notification.outbox.in_([row.id for row in rows])
            & (Notification.status == "pending")).execute())
    for row in rows:
        log.info("notification_sent", extra={"dispute_id": row.dispute_id,
                                             "solver": short(row.recipient),
                                             "notif_type": row.purpose})
    for dispute_id in dict.fromkeys(r.dispute_id for r in rows if r.purpose == notices.INITIAL):
        lifecycle.transition(dispute_id, lifecycle.NOTIFIED, trigger="initial_notification",
                             at=now, last_notified_at=now, next_notify_at=None,
                             next_renotify_at=first_renotify_at(now, settings.timeouts))
    rounds: dict[str, int] = {}
    for row in rows:
        if row.purpose == notices.RENOTIFICATION:
            rounds[row.dispute_id] = max(row.created_at, rounds.get(row.dispute_id, 0))
    for dispute_id, written_at in rounds.items():
        _count_reminder_round(dispute_id, written_at, now, settings)


def _count_reminder_round(dispute_id: str, written_at: int, now: int, settings: Settings) -> None:
    """Count the round written at `written_at` once, when its first DM lands: a dispute last
    notified before the round was written has not counted it yet. `last_notified_at` then
    moves to at least `written_at`, so the round's other DMs landing later count nothing."""
    dispute = Dispute.get_or_none(Dispute.dispute_id == dispute_id)
    if (dispute is None or dispute.lifecycle_state != lifecycle.NOTIFIED
            or (dispute.last_notified_at is not None and dispute.last_notified_at >= written_at)):
        return
    sent = dispute.renotify_count + 1
    next_at = following_renotify_at(now, sent, settings.timeouts)
    not_counted = Dispute.last_notified_at.is_null() | (Dispute.last_notified_at < written_at)
    won = (Dispute.update(renotify_count=sent, next_renotify_at=next_at,
                          last_notified_at=max(now, written_at))
           .where((Dispute.dispute_id == dispute_id)
                  & (Dispute.renotify_count == dispute.renotify_count)
                  & (Dispute.lifecycle_state == lifecycle.NOTIFIED) & not_counted).execute())
    if won and next_at is None:
        audit("renotification_cap_reached", dispute_id=dispute_id, at=now, reminders=sent)
        log.warning("renotification_cap_reached", extra={"dispute_id": dispute_id,
                                                          "reminders": sent})


def on_failed(row: Outbox, error: str, now: int) -> None:
    (Notification.update(status="failed", error_message=error, sent_at=now)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())
    log.warning("notification_failed", extra={"dispute_id": row.dispute_id,
                                              "solver": short(row.recipient), "error": error})


def on_cancelled(row: Outbox, reason: str, now: int) -> None:
    (Notification.update(status="cancelled", error_message=reason)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())
    audit("notification_cancelled", dispute_id=row.dispute_id, at=now,
          outbox_id=row.id, solver=row.recipient, reason=reason)
