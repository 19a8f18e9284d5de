"""Applying one Mostro dispute event: the inbox check, the dispute row, the lifecycle move and
the solver notices, all in one transaction.

Idempotent by construction: the event id is claimed in the inbox first, every state change is
conditional, and notices are written only by the caller that won the change. A replayed event,
the same event from two relays or two workers racing on it have the effect of one.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from nostr_sdk import Keys

from serbero import clock, rejections
from serbero.acks import inbox as ack_inbox
from serbero.acks import record
from serbero.acks.models import DISPUTE, TAKE
from serbero.config import Settings
from serbero.db import bulk
from serbero.db.connection import database
from serbero.db.models import Dispute, ProcessedInput, Transition, audit
from serbero.disputes import lifecycle, notices, notify
from serbero.disputes.events import DisputeEvent, parse_dispute_event
from serbero.disputes.relevance import RELEVANT_IN
from serbero.disputes.reminders import INITIAL_RETRY_BASE_S
from serbero.errors import EventRejected
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import revisions
from serbero.tiers import steps as tier_steps

log = logging.getLogger(__name__)

INPUT_KIND = "dispute_event"


@dataclass(frozen=True, kw_only=True)
class IngestResult(FollowUp):
    """What applying an event did, and what to publish after commit."""

    outcome: str
    dispute_id: str | None = None


def _result(outcome: str, dispute_id: str | None = None,
            follow_up: FollowUp = NOTHING) -> IngestResult:
    return IngestResult(outcome=outcome, dispute_id=dispute_id, **follow_up.parts())


def ingest(raw: str, *, settings: Settings, signer: Keys, now: int) -> IngestResult:
    """Validate and apply one raw dispute event; a bad event is logged, counted and dropped."""
    event = _checked(raw, settings, now)
    if isinstance(event, IngestResult):
        return event
    return _apply_once(event, settings, signer, now,
                       _sign_initial_notices(event, settings, signer, now))


def ingest_many(raws: Sequence[str], *, settings: Settings, signer: Keys,
                now: int) -> FollowUp:
    """Validate and apply several raw dispute events (a batch the listener handed over) in one
    transaction, with the effect each would have had alone: a bad one is dropped, a copy
    applied before (or earlier in the batch) changes nothing. The disputes a burst opens are
    recorded together (`_open_new`); every other event goes one by one, each in a savepoint
    of its own. Any other error rolls the whole batch back, for its job to handle. A message
    that holds no list is one bad event."""
    batch = list(raws) if isinstance(raws, list | tuple) else [raws]
    events = [e for e in (_checked(raw, settings, now) for raw in batch)
              if isinstance(e, DisputeEvent)]
    if not events:
        return NOTHING  # nothing to write: no transaction, no write lock
    signed = [_sign_initial_notices(e, settings, signer, now) for e in events]
    per_dispute = Counter(e.dispute_id for e in events)
    openings, others = [], []
    for event, notices_signed in zip(events, signed, strict=True):
        alone = notices_signed is not None and per_dispute[event.dispute_id] == 1
        (openings if alone else others).append((event, notices_signed))
    with database.atomic():
        opened, left = _open_new(openings, settings, now)
        applied = [_apply_once(e, settings, signer, now, s) for e, s in others + left]
    return opened.then(*applied)


def _open_new(openings: list[tuple[DisputeEvent, notify.Signed]], settings: Settings,
              now: int) -> tuple[FollowUp, list[tuple[DisputeEvent, notify.Signed]]]:
    """Record the disputes that `openings` (`initiated` events, one per dispute, signed)
    open, with their notices: one statement per table for all of them, in a savepoint.
    Returns what to publish, and the openings of disputes already recorded (a replay, or a
    dispute first seen at another status), left for the one-by-one path. Should any of the
    new ones' event ids be applied already, the savepoint is undone and all are left."""
    if not openings:
        return NOTHING, []
    try:
        with database.atomic():
            # Sorted, so two workers inserting overlapping batches take the keys in one order.
            rows = sorted((_dispute_row(e, now) for e, _ in openings),
                          key=lambda row: row["dispute_id"])
            new = {dispute_id for (dispute_id,) in bulk.insert_rows(
                Dispute, rows, ignore_conflicts=True, returning=[Dispute.dispute_id])}
            opened = [(e, s) for e, s in openings if e.dispute_id in new]
            if not opened:
                return NOTHING, openings
            claimed = bulk.insert_rows(ProcessedInput, [
                dict(key=e.event_id, kind=INPUT_KIND, outcome="detected", processed_at=now)
                for e, _ in opened], ignore_conflicts=True)
            if claimed != len(opened):
                raise _AlreadyApplied
            bulk.insert_rows(Transition, [
                dict(dispute=e.dispute_id, from_state=None, to_state=lifecycle.NEW,
                     transitioned_at=now, trigger=f"detected:{e.event_id}")
                for e, _ in opened])
            for e, _ in opened:
                log.info("detected new dispute", extra={"dispute_id": e.dispute_id,
                                                         "initiator": e.initiator})
            stored = notify.store([(_as_recorded(e), s) for e, s in opened], notices.INITIAL,
                                  settings=settings, now=now)
    except _AlreadyApplied:
        return NOTHING, openings
    return (stored.then(*(revisions.detected(e.dispute_id, settings, now) for e, _ in opened)),
            [(e, s) for e, s in openings if e.dispute_id not in new])


def _checked(raw: str, settings: Settings, now: int) -> DisputeEvent | IngestResult:
    """The parsed event, or the result of rejecting it (logged and counted)."""
    try:
        return parse_dispute_event(raw, mostro_pubkey=settings.mostro_pubkey, now=now)
    except EventRejected as rejected:
        rejections.count(settings, rejected.reason)
        log.warning("dispute_event_rejected", extra={"reason": rejected.reason,
                                                     "detail": rejected.detail})
        return _result(f"rejected:{rejected.reason}")


def _apply_once(event: DisputeEvent, settings: Settings, signer: Keys, now: int,
                signed: notify.Signed | None) -> IngestResult:
    """Apply an event in a transaction (a savepoint inside one) that also claims its id in the
    inbox; an event applied before is rolled back and changes nothing."""
    try:
        with database.atomic():
            result = _apply(event, settings, signer, now, signed)
            # The inbox row is claimed last, in the same transaction: an event applied before
            # (or by a racing worker) conflicts here and everything above is rolled back.
            if not (ProcessedInput.insert(key=event.event_id, kind=INPUT_KIND,
                                          outcome=result.outcome, processed_at=now)
                    .on_conflict_ignore().as_rowcount().execute()):
                raise _AlreadyApplied
    except _AlreadyApplied:
        log.debug("duplicate_skip: event already processed", extra={
            "event_id": event.event_id, "dispute_id": event.dispute_id})
        return _result("duplicate_event", event.dispute_id)
    return result


class _AlreadyApplied(Exception):
    """Raised inside the ingest transaction to roll back an event applied before."""


def _sign_initial_notices(event: DisputeEvent, settings: Settings, signer: Keys,
                          now: int) -> notify.Signed | None:
    """Sign an opening dispute's initial notices before the transaction takes the write lock:
    signing is the slowest step, and other workers can write meanwhile. (A replayed opening
    wastes its signatures; the listener keeps replays rare.)"""
    if event.status != "initiated" or tier_steps.enabled(settings):
        return None  # tiers choose their audience inside the transaction (load, quiet hours)
    return notify.sign(_as_recorded(event), notices.INITIAL, settings=settings, signer=signer,
                       now=now)


def _as_recorded(event: DisputeEvent) -> Dispute:
    """The fields of the row `_insert_if_new` writes that notice texts read."""
    return Dispute(dispute_id=event.dispute_id, initiator_role=event.initiator or "unknown",
                   event_timestamp=event.created_at, lifecycle_state=lifecycle.NEW,
                   dispute_status=event.status)


def _apply(event: DisputeEvent, settings: Settings, signer: Keys, now: int,
           signed: notify.Signed | None) -> IngestResult:
    created = _insert_if_new(event, now)
    if event.status == "initiated":
        if not created:
            _advance_revision(event)
            log.debug("duplicate_skip: dispute already recorded",
                      extra={"dispute_id": event.dispute_id})
            return _result("duplicate_dispute", event.dispute_id)
        log.info("detected new dispute", extra={"dispute_id": event.dispute_id,
                                                 "initiator": event.initiator})
        first = (tier_steps.start(_as_recorded(event), settings=settings, signer=signer,
                                  now=now)
                 if tier_steps.enabled(settings) else
                 notify.fan_out(_as_recorded(event), notices.INITIAL, settings=settings,
                                signer=signer, now=now, signed=signed))
        return _result("detected", event.dispute_id,
                       first.then(revisions.detected(event.dispute_id, settings, now)))
    if not created and not _advance_revision(event):
        log.info("stale_revision_ignored", extra={
            "dispute_id": event.dispute_id, "status": event.status, "event_id": event.event_id})
        return _result("stale_revision", event.dispute_id)
    if event.is_terminal:
        return _resolve(event, settings, signer, now, announce=not created)
    if revisions.is_own_take(event, serbero_pubkey=settings.serbero_pubkey, now=now):
        return _taken_by_serbero(event, settings, now)
    stopped = revisions.human_took_over(event, settings=settings, signer=signer, now=now)
    result = _take(event, settings, signer, now)
    return _result(result.outcome, result.dispute_id, stopped.then(result))


def _taken_by_serbero(event: DisputeEvent, settings: Settings, now: int) -> IngestResult:
    """Serbero's own take (issue 12): the dispute is Serbero's, and the solvers hear so from
    the session's `mediating` notice, not as "taken by unknown"."""
    lifecycle.transition(event.dispute_id, lifecycle.TAKEN, trigger=event.event_id, at=now,
                         from_states=lifecycle.FIRST_TAKE_FROM,
                         assigned_solver=settings.serbero_pubkey, next_renotify_at=None,
                         next_notify_at=None)
    log.info("taken_by_serbero", extra={"dispute_id": event.dispute_id,
                                        "event_id": event.event_id})
    return _result("taken_by_serbero", event.dispute_id)


def _insert_if_new(event: DisputeEvent, now: int) -> bool:
    """Record a dispute seen for the first time. A dispute first seen `in-progress` or closed
    (Serbero was down while it opened) is recorded too, so nothing is lost from the audit."""
    inserted = (Dispute.insert(**_dispute_row(event, now))
                .on_conflict_ignore().as_rowcount().execute()) == 1
    if inserted:
        Transition.create(dispute=event.dispute_id, from_state=None, to_state=lifecycle.NEW,
                          transitioned_at=now, trigger=f"detected:{event.event_id}")
    return inserted


def _dispute_row(event: DisputeEvent, now: int) -> dict[str, object]:
    """The columns of the row a dispute gets when Serbero first sees it."""
    return dict(
        dispute_id=event.dispute_id, event_id=event.event_id, mostro_pubkey=event.author,
        initiator_role=_as_recorded(event).initiator_role, dispute_status=event.status,
        event_timestamp=event.created_at, opened_at=event.opened_at, detected_at=now,
        detected_at_ms=clock.now_ms(),
        lifecycle_state=lifecycle.NEW, status_event_id=event.event_id,
        status_event_at=event.created_at, status_stage=event.stage,
        next_notify_at=now + INITIAL_RETRY_BASE_S if event.status == "initiated" else None)


def _advance_revision(event: DisputeEvent) -> bool:
    """Store this revision's status if it is newer than the stored one (GAP-28); an older
    revision changes nothing. Equal timestamps favour the later stage (mostrod ≤ 0.18.5 ties)."""
    newer = ((Dispute.status_event_at < event.created_at)
             | ((Dispute.status_event_at == event.created_at)
                & (Dispute.status_stage < event.stage)))
    return (Dispute.update(dispute_status=event.status, status_event_id=event.event_id,
                           status_event_at=event.created_at, status_stage=event.stage)
            .where((Dispute.dispute_id == event.dispute_id) & newer).execute()) == 1


def _take(event: DisputeEvent, settings: Settings, signer: Keys, now: int) -> IngestResult:
    taken_before = Transition.select().where((Transition.dispute == event.dispute_id)
                                             & (Transition.to_state == lifecycle.TAKEN)).exists()
    left = lifecycle.transition(event.dispute_id, lifecycle.TAKEN, trigger=event.event_id, at=now,
                                from_states=None if taken_before else lifecycle.FIRST_TAKE_FROM,
                                assigned_solver=event.solver, next_renotify_at=None,
                                next_notify_at=None)
    if left is None:
        if not _retaken(event):
            return _result("already_taken", event.dispute_id)
        audit("assignment_changed", dispute_id=event.dispute_id, at=now,
              solver=event.solver or "unknown", event_id=event.event_id)
        log.info("assignment_changed", extra={"dispute_id": event.dispute_id})
        return _result("reassigned", event.dispute_id, _notify(
            event.dispute_id, notices.ASSIGNMENT, settings, signer, now, takeover=True))
    log.info("assignment_detected", extra={"dispute_id": event.dispute_id,
                                           "assigned_solver": event.solver or "unknown"})
    _acknowledged_by_take(event, settings, signer, now)
    return _result("taken", event.dispute_id,
                   _notify(event.dispute_id, notices.ASSIGNMENT, settings, signer, now))


def _acknowledged_by_take(event: DisputeEvent, settings: Settings, signer: Keys,
                          now: int) -> None:
    """A take names its solver (a `p` tag): if a configured one, it is their acknowledgement
    too (issue 9), so time-to-acknowledge counts it. Current mostrod names no solver."""
    if event.solver is not None and event.solver in ack_inbox.solver_keys(settings):
        record.acknowledge(event.dispute_id, event.solver, scope=DISPUTE, source=TAKE,
                           settings=settings, signer=signer, now=now)


def _retaken(event: DisputeEvent) -> bool:
    """Whether a newer `in-progress` revision of a dispute already taken is a takeover worth
    announcing: Mostro publishes one per take and tells the parties, but not the previous solver
    (mostro#302). Current mostrod names no solver, so without a `p` tag every newer revision
    counts; with one, only a change of solver does. Reached once per revision (the revision
    update before it is conditional)."""
    taken = ((Dispute.dispute_id == event.dispute_id)
             & Dispute.lifecycle_state.in_(RELEVANT_IN[notices.ASSIGNMENT]))
    if event.solver is None:
        return Dispute.select().where(taken).exists()
    changed = Dispute.assigned_solver.is_null() | (Dispute.assigned_solver != event.solver)
    return Dispute.update(assigned_solver=event.solver).where(taken & changed).execute() == 1


def _resolve(event: DisputeEvent, settings: Settings, signer: Keys, now: int, *,
             announce: bool) -> IngestResult:
    left = lifecycle.transition(event.dispute_id, lifecycle.RESOLVED,
                                trigger="dispute_resolved_externally", at=now,
                                next_renotify_at=None, next_notify_at=None)
    if left is None:
        return _result("already_resolved", event.dispute_id)
    log.info("dispute_resolved_externally", extra={"dispute_id": event.dispute_id,
                                                   "status": event.status})
    follow_up = _notify(event.dispute_id, notices.RESOLUTION, settings, signer, now) \
        if announce else NOTHING
    ended = revisions.resolved(event, settings=settings, signer=signer, now=now)
    return _result("resolved", event.dispute_id, follow_up.then(ended))


def _notify(dispute_id: str, notif_type: str, settings: Settings, signer: Keys, now: int, *,
            takeover: bool = False) -> FollowUp:
    dispute = Dispute.get_by_id(dispute_id)
    return notify.fan_out(dispute, notif_type, settings=settings, signer=signer, now=now,
                          takeover=takeover)
