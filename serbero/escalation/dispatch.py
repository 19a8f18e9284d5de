"""Dispatching one handoff (DISP-4…DISP-13): parse the package, find the dispute, supersede it
if resolved, route it, then sign the `escalation_handoff/v1` DMs into the outbox, in one
transaction; the dispatch row and its audit event follow the DMs' outcome (`outcome.py`). What
cannot go out now is parked (unroutable, superseded) until what parked it changes. Each DM takes
its recipient's configured form; observers and webhooks get their copies with the first
attempt. Never publishes: the caller publishes the returned follow-up after commit; `scan.py`
finds the handoffs that are due.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import AuditEvent, Dispute
from serbero.disputes import lifecycle, notify
from serbero.escalation import package, routing
from serbero.escalation.models import (
    DM_PURPOSE,
    MANUAL_TRIGGER,
    NOTIF_TYPE,
    PARSE_FAILED,
    PENDING,
    SEND_FAILED,
    SENDING,
    SUPERSEDED,
    UNROUTABLE,
    EscalationDm,
    EscalationHandoff,
    claim,
    compact,
    record,
)
from serbero.escalation.retry import Retry, fail_attempt
from serbero.followup import NOTHING, FollowUp, Publish
from serbero.messages import copies
from serbero.messages.message import SolverMessage

log = logging.getLogger(__name__)

#: Before the outbox scan re-publishes a DM whose publish job may have been lost.
FIRST_REPUBLISH_AFTER_S = 15
#: What follows a session's handoff DM to the same solvers, as "module:function" imported on
#: first use (escalation imports no mediation module): the session's transcript, since solvers
#: cannot read Serbero's chat channels.
FOLLOWERS = ("serbero.mediation.transcript:send",)
REMEDY = ('add a [[solvers]] entry with permission = "write" (then restart), set '
          "[escalation].fallback_to_all_solvers = true, or re-send with "
          "`serbero escalate DISPUTE_ID --to PUBKEY`")


@dataclass(frozen=True, kw_only=True)
class Outcome(FollowUp):
    """What one dispatch call did; its follow-up publishes the DMs and schedules a retry."""

    handoff_id: int
    status: str
    reason: str = ""

    @property
    def retry(self) -> Retry | None:
        return Retry.of(self)


def _outcome(handoff_id: int, status: str, reason: str = "",
             follow_up: FollowUp = NOTHING) -> Outcome:
    return Outcome(handoff_id=handoff_id, status=status, reason=reason, **follow_up.parts())


def dispatch_one(handoff_id: int, *, settings: Settings, signer: Keys, now: int,
                 token: str | None = None) -> Outcome:
    """Dispatch one handoff if it is due; `token` marks a delayed re-dispatch, which does
    nothing unless its token is still the handoff's current one."""
    with database.atomic():
        handoff = EscalationHandoff.get_or_none(EscalationHandoff.handoff_event_id == handoff_id)
        if handoff is None:
            return _outcome(handoff_id, "missing", "no such handoff")
        reason = _why_not(handoff, settings, now, token)
        if reason:
            return _skip(handoff, reason, now)
        return _dispatch(handoff, settings, signer, now, token)


def _why_not(h: EscalationHandoff, settings: Settings, now: int, token: str | None) -> str:
    """Empty when the handoff may be dispatched now; otherwise why not, as a reason code."""
    if token is not None:
        return "" if h.status == SEND_FAILED and h.retry_token == token else "stale_token"
    if not settings.escalation.enabled and h.trigger != MANUAL_TRIGGER:
        return "dispatcher_disabled"
    if h.status == PENDING:
        return ""
    if h.status == SEND_FAILED:
        due = h.next_attempt_at is not None and h.next_attempt_at <= now
        return "" if due else "retry_not_due"
    if h.status == UNROUTABLE:
        return "" if routable(settings) else "still_unroutable"
    if h.status == SUPERSEDED:
        resolved = Dispute.select().where((Dispute.dispute_id == h.dispute_id) & (
            Dispute.lifecycle_state == lifecycle.RESOLVED)).exists()
        return "still_resolved" if resolved else ""
    return f"already_{h.status}"


def routable(settings: Settings) -> bool:
    """Whether the configuration can route any handoff (see `routing.can_route`)."""
    return routing.can_route(settings.solvers,
                             fallback_to_all_solvers=settings.escalation.fallback_to_all_solvers)


def _skip(h: EscalationHandoff, reason: str, now: int) -> Outcome:
    """Every silence is explained: a stale token or a lost race leaves an audit row."""
    record("escalation_dispatch_skipped", dispute_id=h.dispute_id, at=now,
           handoff_event_id=h.handoff_event_id, reason=reason, status=h.status)
    log.info("phase4_dispatch_skipped", extra={"handoff_id": h.handoff_event_id,
                                               "reason": reason})
    return _outcome(h.handoff_event_id, "skipped", reason)


def _dispatch(h: EscalationHandoff, settings: Settings, signer: Keys, now: int,
              token: str | None) -> Outcome:
    """DISP-4: deserialize → dispute lookup → supersession gate → routing → DMs → record."""
    event = AuditEvent.get_by_id(h.handoff_event_id)
    try:
        pkg = package.parse(event.payload_json)
    except package.PayloadError as exc:
        return _parse_failed(h, event, package.best_effort_dispute_id(event.payload_json),
                             reason="deserialize_failed", detail=str(exc), now=now)
    dispute = Dispute.get_or_none(Dispute.dispute_id == pkg.dispute_id)
    if dispute is None:
        return _parse_failed(h, event, pkg.dispute_id, reason="orphan_dispute_reference",
                             detail="dispute_id not found", now=now)
    if dispute.lifecycle_state == lifecycle.RESOLVED:
        return _supersede(h, event, pkg, now)
    if h.route == routing.MANUAL:
        route = routing.Route(routing.MANUAL, tuple(h.recipient_list))
    else:
        route = routing.route(settings.solvers, assigned_solver=dispute.assigned_solver,
                              fallback_to_all_solvers=settings.escalation.fallback_to_all_solvers)
    if route.kind == routing.UNROUTABLE:
        return _unroutable(h, event, pkg, route=route, settings=settings, now=now)
    attempt = h.attempts + 1
    if not claim(h, at=now, token=token, status=SENDING, attempts=attempt, route=route.kind,
                 recipients=compact(list(route.recipients)), dispute_id=pkg.dispute_id,
                 session_id=pkg.session_id, trigger=pkg.trigger, retry_token=None,
                 next_attempt_at=None):
        return _skip(h, "lost_race", now)
    message = package.solver_message(pkg, notice_type=NOTIF_TYPE,
                                     lifecycle_state=dispute.lifecycle_state, now=now,
                                     manual=manual_request(h))
    dms = _write_dms(h, message, route, settings=settings, signer=signer, attempt=attempt,
                     now=now)
    followers = _followers(pkg, route, settings=settings, signer=signer,
                           lifecycle_state=dispute.lifecycle_state, now=now) \
        if attempt == 1 and dms and pkg.session_id is not None else []
    log.info("phase4_dms_queued", extra={
        "dispute_id": pkg.dispute_id, "handoff_id": h.handoff_event_id, "route": route.kind,
        "recipients": len(route.recipients), "queued": len(dms), "attempt": attempt})
    # The dispatch row and its audit row follow the outcome (`outcome.py`). Observers and
    # webhooks hear of a handoff once, with its first attempt, even when no DM could be
    # written: a person has to take the dispute over either way.
    extra = copies.write(message, copies.rows(message, settings=settings, signer=signer,
                                              now=now), settings=settings, now=now) \
        if attempt == 1 else []
    retry = None if dms else fail_attempt(h, now=now, reason="no recipient pubkey parses")
    follow_up = FollowUp(publish=(*dms, *followers, *extra)).then(
        retry.follow_up() if retry else None)
    return _outcome(h.handoff_event_id, h.status, follow_up=follow_up)


def _write_dms(h: EscalationHandoff, message: SolverMessage, route: routing.Route, *,
               settings: Settings, signer: Keys, attempt: int, now: int) -> list[Publish]:
    """One signed DM per recipient (`notify.write_dms`), each tied to this handoff attempt."""
    queued = notify.write_dms(message, route.recipients, purpose=DM_PURPOSE,
                              republish_after_s=FIRST_REPUBLISH_AFTER_S, notif_type=NOTIF_TYPE,
                              settings=settings, signer=signer, now=now)
    for publish in queued:
        EscalationDm.create(outbox_id=publish.row_id, handoff_event_id=h.handoff_event_id,
                            attempt=attempt)
    return queued


def _followers(pkg: package.HandoffPackage, route: routing.Route, *, settings: Settings,
               signer: Keys, lifecycle_state: str, now: int) -> list[Publish]:
    """The messages that follow a session's handoff, to its recipients; the outbox retries
    them like the handoff DMs themselves."""
    queued: list[Publish] = []
    for name in FOLLOWERS:
        module, attribute = name.split(":")
        follower = getattr(importlib.import_module(module), attribute)
        queued += follower(pkg.dispute_id, pkg.session_id, route.recipients, settings=settings,
                           signer=signer, lifecycle_state=lifecycle_state, now=now)
    return queued


def manual_request(h: EscalationHandoff) -> package.ManualRequest | None:
    """Who escalated by hand and their note, from the handoff's `escalation_recommended` row
    (the note stays there; the package carries only its hash); None for other triggers."""
    if h.trigger != MANUAL_TRIGGER:
        return None
    recommended = (AuditEvent.get_or_none(AuditEvent.id == h.recommended_event_id)
                   if h.recommended_event_id is not None else None)
    try:
        payload = recommended.payload if recommended is not None else {}
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    operator, note = payload.get("requested_by"), payload.get("note")
    return package.ManualRequest(
        operator=operator if isinstance(operator, str) and operator else h.requested_by or "?",
        note=note if isinstance(note, str) else "")


def _parse_failed(h: EscalationHandoff, event: AuditEvent, dispute_id: str, *, reason: str,
                  detail: str, now: int) -> Outcome:
    """DISP-5/6: recorded once; the handoff is consumed and never dispatched."""
    if not claim(h, at=now, status=PARSE_FAILED, dispute_id=dispute_id, next_attempt_at=None):
        return _skip(h, "lost_race", now)
    record("escalation_dispatch_parse_failed", dispute_id=dispute_id, at=now, source=event,
           handoff_event_id=h.handoff_event_id, reason=reason, detail=detail[:500])
    log.warning(f"phase4_parse_failed — {reason}", extra={
        "dispute_id": dispute_id, "handoff_id": h.handoff_event_id, "detail": detail[:200]})
    return _outcome(h.handoff_event_id, PARSE_FAILED, reason)


def _supersede(h: EscalationHandoff, event: AuditEvent, pkg: package.HandoffPackage,
               now: int) -> Outcome:
    """DISP-7: no DM for a resolved dispute; one audit row per handoff however often it is
    looked at; parked until the dispute is no longer resolved."""
    first = h.superseded_at is None
    if not claim(h, at=now, status=SUPERSEDED, superseded_at=h.superseded_at or now,
                 dispute_id=pkg.dispute_id, trigger=pkg.trigger, next_attempt_at=None):
        return _skip(h, "lost_race", now)
    if first:
        record("escalation_superseded", dispute_id=pkg.dispute_id, at=now, source=event,
               handoff_event_id=h.handoff_event_id, reason="dispute_already_resolved")
    log.info("phase4_superseded — dispute already resolved; skipping dispatch", extra={
        "dispute_id": pkg.dispute_id, "handoff_id": h.handoff_event_id})
    return _outcome(h.handoff_event_id, SUPERSEDED, "dispute_already_resolved")


def _unroutable(h: EscalationHandoff, event: AuditEvent, pkg: package.HandoffPackage, *,
                route: routing.Route, settings: Settings, now: int) -> Outcome:
    """DISP-10: one audit row per handoff; parked until the configuration can route it."""
    first = h.unroutable_at is None
    if not claim(h, at=now, status=UNROUTABLE, unroutable_at=h.unroutable_at or now,
                 dispute_id=pkg.dispute_id, trigger=pkg.trigger, next_attempt_at=None):
        return _skip(h, "lost_race", now)
    if first:
        record("escalation_dispatch_unroutable", dispute_id=pkg.dispute_id, at=now, source=event,
               handoff_event_id=h.handoff_event_id,
               configured_solver_count=route.configured_solver_count,
               fallback_to_all_solvers=False)
    log.error("phase4_unroutable — no solver can receive this handoff", extra={
        "dispute_id": pkg.dispute_id, "handoff_id": h.handoff_event_id,
        "configured_solver_count": route.configured_solver_count,
        "config_fallback_to_all_solvers": settings.escalation.fallback_to_all_solvers,
        "remedy": REMEDY})
    return _outcome(h.handoff_event_id, UNROUTABLE, "unroutable")
