"""Solver notices: writing one notice per solver (each in its configured form) and the copies for
observers and webhooks into the outbox, and what happens to the dispute when a notice is
published, refused, or no longer worth sending.

`fan_out` runs inside the transaction of the state change that caused the notices. `PURPOSE`
holds the `solver_dm` hooks, called by the outbox around publication.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from nostr_sdk import Event, Keys

from serbero import outbox
from serbero.config import Settings, SolverEntry
from serbero.db import bulk
from serbero.db.models import AuditEvent, Dispute, Notification, Outbox, audit
from serbero.disputes import lifecycle, notices
from serbero.disputes.relevance import unwanted
from serbero.disputes.renotify import after_initial, after_round
from serbero.followup import FollowUp, Publish
from serbero.messages import copies, formats
from serbero.messages.message import SolverMessage
from serbero.nostr.keys import parse_public_key, short
from serbero.outbox import NOSTR, NewRow
from serbero.outbox.purposes import Purpose

log = logging.getLogger(__name__)

#: Before the outbox tick re-sends a fresh row whose publish job may have been lost.
FIRST_RETRY_AFTER_S = 15


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


@dataclass(frozen=True)
class Signed:
    """A notice signed for every recipient, ready to store: the solvers' events by hex pubkey
    and the bystanders' copies."""

    message: SolverMessage
    solvers: dict[str, Event]
    copies: list[NewRow]


def sign(dispute: Dispute, notif_type: str, *, settings: Settings, signer: Keys, now: int,
         takeover: bool = False, with_copies: bool = True,
         to: Collection[str] | None = None) -> Signed:
    """The notice for every solver whose pubkey parses (each in their form; only those whose
    hex pubkey is in `to`, when given) and, unless `with_copies` is off, its copies for
    observers and webhooks. Touches no state."""
    message = notices.message(dispute, notif_type, now, takeover=takeover)
    events = {hex_pubkey: formats.build(message, settings.solver_format(solver), signer=signer,
                                        recipient=hex_pubkey, now=now)
              for solver, hex_pubkey, _ in recipients(settings.solvers)
              if hex_pubkey is not None and (to is None or hex_pubkey in to)}
    extra = copies.rows(message, settings=settings, signer=signer, now=now) \
        if with_copies else []
    return Signed(message, events, extra)


def write_dms(message: SolverMessage, recipients: Iterable[str], *, purpose: str,
              republish_after_s: int, notif_type: str, settings: Settings, signer: Keys,
              now: int, stamp: int | None = None) -> list[Publish]:
    """One signed DM per recipient (each key once, in its configured form) into the outbox, each
    with a pending notification: the messages that go to a chosen few (handoffs, mediation's).
    A pubkey that does not parse is a failed notification (`invalid pubkey: …`) and blocks no
    one. `stamp` dates the events (default `now`)."""
    rows: list[tuple[str, NewRow]] = []
    for pubkey in dict.fromkeys(recipients):
        try:
            hex_pubkey = parse_public_key(pubkey)
        except ValueError as exc:
            Notification.create(dispute=message.dispute_id, solver_pubkey=pubkey,
                                status="failed", error_message=f"invalid pubkey: {exc}",
                                notif_type=notif_type, created_at=now, sent_at=now)
            log.warning("notification_failed: invalid solver pubkey", extra={
                "dispute_id": message.dispute_id, "notif_type": notif_type})
            continue
        event = formats.build(message, settings.format_for(hex_pubkey), signer=signer,
                              recipient=hex_pubkey, now=stamp or now)
        rows.append((pubkey, NewRow(channel=NOSTR, purpose=purpose, recipient=hex_pubkey,
                                    message_id=event.id().to_hex(), body=event.as_json(),
                                    republish_after_s=republish_after_s,
                                    dispute_id=message.dispute_id, notice_type=notif_type)))
    queued = outbox.write([row for _, row in rows], now=now)
    for (pubkey, _), publish in zip(rows, queued, strict=True):
        Notification.create(dispute=message.dispute_id, solver_pubkey=pubkey, status="pending",
                            notif_type=notif_type, outbox=publish.row_id, created_at=now)
    return queued


def fan_out(dispute: Dispute, notif_type: str, *, settings: Settings, signer: Keys, now: int,
            include_invalid: bool = True, signed: Signed | None = None,
            takeover: bool = False, with_copies: bool = True,
            to: Collection[str] | None = None) -> FollowUp:
    """Store the notice for every solver (signed here, or already by `sign`; only the hex
    pubkeys in `to`, when given: a tier's audience) and its copies, record a pending
    notification per solver, and return what to publish after commit. A solver whose pubkey
    does not parse gets a failed notification (`invalid pubkey: …`) and never blocks the
    others (NOTIF-4)."""
    signed = signed or sign(dispute, notif_type, settings=settings, signer=signer, now=now,
                            takeover=takeover, with_copies=with_copies, to=to)
    return store([(dispute, signed)], notif_type, settings=settings, now=now,
                 include_invalid=include_invalid, to=to)


def store(signed_notices: Sequence[tuple[Dispute, Signed]], notif_type: str, *, settings: Settings,
          now: int, include_invalid: bool = True,
          to: Collection[str] | None = None) -> FollowUp:
    """`fan_out` for notices already signed, of one type, for any number of disputes (the new
    disputes of a burst): one statement per table for all of them, the same rows as one
    `fan_out` each. Call inside the transaction that decided them."""
    targets = recipients(settings.solvers)
    valid: list[tuple[str, SolverEntry, str, Event]] = []
    failed: list[dict[str, object]] = []
    for dispute, signed in signed_notices:
        for solver, hex_pubkey, error in targets:
            if hex_pubkey is not None:
                if to is None or hex_pubkey in to:
                    valid.append((dispute.dispute_id, solver, hex_pubkey,
                                  signed.solvers[hex_pubkey]))
            elif include_invalid:
                failed.append(dict(dispute=dispute.dispute_id, solver_pubkey=solver.pubkey,
                                   status="failed", error_message=f"invalid pubkey: {error}",
                                   notif_type=notif_type, outbox=None, created_at=now,
                                   sent_at=now))
                log.warning("notification_failed: invalid solver pubkey", extra={
                    "dispute_id": dispute.dispute_id, "notif_type": notif_type})
    events = {event.id().to_hex(): event for _, _, _, event in valid}
    queued = outbox.write([NewRow(channel=NOSTR, purpose=PURPOSE.name, recipient=hex_pubkey,
                                  message_id=event_id, body=event.as_json(),
                                  republish_after_s=FIRST_RETRY_AFTER_S,
                                  dispute_id=dispute_id, notice_type=notif_type)
                           for (dispute_id, _, hex_pubkey, event), event_id
                           in zip(valid, events, strict=True)], now=now)
    # An insert takes its columns from the first row: every row names them all.
    rows = failed + [dict(dispute=dispute_id, solver_pubkey=solver.pubkey, status="pending",
                          error_message=None, notif_type=notif_type, outbox=publish.row_id,
                          created_at=now, sent_at=None)
                     for (dispute_id, solver, _, _), publish in zip(valid, queued, strict=True)]
    if rows:
        bulk.insert_rows(Notification, rows)
    told = {dispute_id for dispute_id, _, _, _ in valid}
    extra: list[Publish] = []
    for dispute, signed in signed_notices:
        if dispute.dispute_id not in told and not _skip_explained(dispute.dispute_id,
                                                                   notif_type):
            audit("notification_skipped", dispute_id=dispute.dispute_id, at=now,
                  notif_type=notif_type, reason="no_valid_solvers")
            log.warning("no solvers configured; dispute persisted but not notified", extra={
                "dispute_id": dispute.dispute_id, "notif_type": notif_type})
        extra += copies.write(signed.message, signed.copies, settings=settings, now=now)
    return FollowUp(publish=(*queued, *extra), signed=events)


def _skip_explained(dispute_id: str, notif_type: str) -> bool:
    """Whether the dispute already says why nobody got this type of notice: the periodic
    retries ask again every hour, and the answer is written once (issue 10)."""
    return any(row.payload.get("notif_type") == notif_type for row in AuditEvent.select()
               .where((AuditEvent.dispute_id == dispute_id)
                      & (AuditEvent.kind == "notification_skipped")))


def pending_notices(dispute_id: str, notif_type: str) -> list[Outbox]:
    """The dispute's notices of one type still waiting in the outbox (no relay or webhook took
    them): the solvers' and their copies for observers and webhooks."""
    return list(Outbox.select().where((Outbox.dispute == dispute_id)
                                      & (Outbox.notice_type == notif_type)
                                      & (Outbox.status == outbox.PENDING)))


def on_sent(rows: Sequence[Outbox], now: int, settings: Settings) -> FollowUp | None:
    """Record delivery; the first initial notice that lands moves its dispute to `notified`,
    and the first reminder of a round that lands counts the round (`reminders.py`)."""
    (Notification.update(status="sent", sent_at=now)
     .where(Notification.outbox.in_([row.id for row in rows])
            & (Notification.status == "pending")).execute())
    for row in rows:
        log.info("notification_sent", extra={"dispute_id": row.dispute_id,
                                             "solver": short(row.recipient),
                                             "notif_type": row.notice_type})
    landed = list(dict.fromkeys(r.dispute_id for r in rows if r.notice_type == notices.INITIAL))
    if landed:
        acknowledged = {dispute_id for (dispute_id,) in Dispute.select(Dispute.dispute_id)
                        .where(Dispute.dispute_id.in_(landed)
                               & Dispute.acknowledged_at.is_null(False)).tuples()}
        for ack in (False, True):
            lifecycle.transition_many(
                [d for d in landed if (d in acknowledged) is ack], lifecycle.NOTIFIED,
                from_state=lifecycle.NEW, trigger="initial_notification", at=now,
                last_notified_at=now, next_notify_at=None,
                next_renotify_at=after_initial(now, settings, acknowledged=ack))
    rounds: dict[str, int] = {}
    for row in rows:
        if row.notice_type == notices.RENOTIFICATION:
            rounds[row.dispute_id] = max(row.created_at, rounds.get(row.dispute_id, 0))
    for dispute_id, written_at in rounds.items():
        _count_reminder_round(dispute_id, written_at, now, settings)
    return None


def _count_reminder_round(dispute_id: str, written_at: int, now: int, settings: Settings) -> None:
    """Count the round written at `written_at` once, when its first DM lands: a dispute last
    notified before the round was written has not counted it yet. `last_notified_at` then
    moves to at least `written_at`, so the round's other DMs landing later count nothing."""
    dispute = Dispute.get_or_none(Dispute.dispute_id == dispute_id)
    if (dispute is None or dispute.lifecycle_state != lifecycle.NOTIFIED
            or (dispute.last_notified_at is not None and dispute.last_notified_at >= written_at)):
        return
    sent = dispute.renotify_count + 1
    next_at = after_round(now, sent, settings, acknowledged=dispute.acknowledged_at is not None)
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


def on_failed(row: Outbox, error: str, now: int) -> FollowUp | None:
    (Notification.update(status="failed", error_message=error, sent_at=now)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())
    log.warning("notification_failed", extra={"dispute_id": row.dispute_id,
                                              "solver": short(row.recipient), "error": error})
    return None


def on_cancelled(row: Outbox, reason: str, now: int) -> FollowUp | None:
    (Notification.update(status="cancelled", error_message=reason)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())
    audit("notification_cancelled", dispute_id=row.dispute_id, at=now,
          outbox_id=row.id, solver=row.recipient, reason=reason)
    return None


def on_requeued(row: Outbox, now: int) -> None:
    """An operator put a failed notice back in play: its notification waits again, so that its
    delivery is recorded as any other."""
    (Notification.update(status="pending", error_message=None, sent_at=None)
     .where((Notification.outbox == row.id) & (Notification.status == "failed")).execute())


PURPOSE = Purpose("solver_dm", unwanted=unwanted, on_sent=on_sent, on_failed=on_failed,
                  on_cancelled=on_cancelled, on_requeued=on_requeued)
