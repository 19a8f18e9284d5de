"""What the workers call into mediation: one function per job, each taking the process's
runtime and returning its follow-up, and the periodic tick that re-derives lost work from the
database (RESUME-*): due timers (a restart, a flushed Redis), takes answered or unanswered,
the listener's subscriptions, sessions pinned to a prompt bundle this process does not hold,
and eligible disputes no session was started for.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from serbero.acks import inbox as ack_inbox
from serbero.followup import NOTHING, FollowUp, Later, combine
from serbero.mediation import (
    advance,
    escalate,
    forwarding,
    inbound,
    replies,
    revisions,
    rules,
    sessions,
    start,
    subscriptions,
    summary,
    takes,
    timers,
)
from serbero.mediation.advance import unusable_bundle
from serbero.mediation.models import MediationSession
from serbero.mostro import daemon as mostro_daemon
from serbero.mostro import info
from serbero.reasoning import setup
from serbero.reasoning.setup import Reasoning

if TYPE_CHECKING:
    from serbero.runtime import Runtime

log = logging.getLogger(__name__)

#: Kinds whose job calls the model, holding the timer for the chain's worst case.
MODEL_KINDS = frozenset({timers.OPEN, timers.EVALUATE, timers.SUMMARIZE})


def _reasoning(rt: Runtime) -> Reasoning | None:
    return setup.current(rt.settings)


def start_job(dispute_id: str, rt: Runtime, now: int,
              trigger: str = start.DETECTED) -> FollowUp:
    """`start_mediation`: start mediating a dispute, if it may be."""
    return start.start(dispute_id, settings=rt.settings, signer=rt.signer,
                       reasoning=_reasoning(rt), now=now, trigger=trigger)


def timer_job(session_id: str, kind: str, token: str, rt: Runtime, now: int) -> FollowUp:
    """`mediation_timer`: the delayed work of one session; a stale token does nothing."""
    lease_s = rules.model_lease_s(rt.settings) if kind in MODEL_KINDS else rules.SHORT_LEASE_S
    held = timers.lease(session_id, kind, token, now=now, lease_s=lease_s)
    if held is None:
        return NOTHING
    session = sessions.get(session_id)
    if session is None:
        timers.done(session_id, kind, held)
        return NOTHING
    settings, signer, reasoning = rt.settings, rt.signer, _reasoning(rt)
    if kind == timers.EVALUATE:
        return advance.evaluate_session(session, held, settings=settings, signer=signer,
                                        reasoning=reasoning, now=now)
    if kind == timers.SUMMARIZE:
        return summary.fire(session, held, settings=settings, signer=signer,
                            reasoning=reasoning, now=now)
    if kind == timers.OPEN:
        return _reopen(session, held, rt, now)
    try:
        if kind == timers.REPLY:
            return replies.fire(session, signer=signer, now=now)
        if kind == timers.FORWARD:
            return forwarding.fire(session, settings=settings, signer=signer, now=now)
        log.error("mediation_timer_unknown_kind", extra={"kind": kind[:32]})
        return NOTHING
    finally:
        timers.done(session_id, kind, held)


def _reopen(session: MediationSession, held: str, rt: Runtime, now: int) -> FollowUp:
    """An `open` timer the tick fired: the worker that claimed the dispute died classifying."""
    reasoning = _reasoning(rt)
    trigger = unusable_bundle(session, reasoning, rt.settings)
    if session.state != sessions.OPENING or trigger is not None:
        timers.done(session.session_id, timers.OPEN, held)
        if session.state == sessions.OPENING and trigger is not None:
            return escalate.hand_off(session, trigger, signer=rt.signer, now=now)
        return NOTHING
    assert reasoning is not None
    return start.classify_opening(session, held, settings=rt.settings, signer=rt.signer,
                                  reasoning=reasoning, now=now)


def hand_off_job(session_id: str, trigger: str, rt: Runtime, now: int) -> FollowUp:
    """`mediation_hand_off`: hand a session over, for code that could not sign."""
    session = sessions.get(session_id)
    if session is None:
        return NOTHING
    return escalate.hand_off(session, trigger, signer=rt.signer, now=now)


def chat_event(raw: str, rt: Runtime, now: int) -> FollowUp:
    """`ingest_chat_event` (events queue): a party's message, or Serbero's own coming back."""
    return inbound.ingest(raw, settings=rt.settings, signer=rt.signer, now=now)


def mostro_event(raw: str, rt: Runtime, now: int) -> FollowUp:
    """`ingest_mostro_event`: a solver's gift-wrapped reply, or the Mostro layer's handling,
    then, if the node answered a take, what the session does with the answer (open, or
    end)."""
    reply = ack_inbox.claim_gift_wrap(raw, settings=rt.settings, signer=rt.signer, now=now)
    if reply is not None:  # a solver's NIP-17 DM, on the node's subscription (issue 9)
        return reply
    handled = mostro_daemon.handle(raw, settings=rt.settings, signer=rt.signer, now=now)
    if handled.outcome not in ("taken", "refused"):
        return handled
    return handled.then(takes.settle(settings=rt.settings, signer=rt.signer, now=now))


def tick(rt: Runtime, now: int) -> FollowUp:
    """The periodic job (`serbero.ticks`, on the `mediation` queue): nothing here calls a
    model; the work found is handed to jobs."""
    settings, signer = rt.settings, rt.signer
    any_session = MediationSession.select().exists()
    if not settings.mediation.enabled and not any_session:
        return NOTHING
    parts: list[FollowUp] = [timers.due(now)]
    if any_session:
        parts.append(takes.settle(settings=settings, signer=signer, now=now))
        subscriptions.reconcile(now)
        parts.append(_unusable(rt, now))
    reasoning = _reasoning(rt)
    if start.why_not_now(settings, reasoning) is None:
        parts.append(FollowUp(later=tuple(
            Later(revisions.START_JOB, now, (d, start.TICK_RETRY))
            for d in start.candidates(now))))
    return combine(parts)


def _unusable(rt: Runtime, now: int) -> FollowUp:
    """Live sessions this deployment can no longer mediate as they started: pinned to a prompt
    bundle that is not the one loaded (RESUME-1, GAP-4: through the handoff), with mediation or
    the reasoning layer off, or on a node that no longer announces Serbero's key."""
    reasoning = _reasoning(rt)
    profile = info.current_profile(rt.settings)
    lost = profile.serbero_status in (info.FOREIGN, info.MALFORMED)
    parts = []
    for session in MediationSession.select().where(
            MediationSession.state.in_(list(sessions.LIVE - {sessions.OPENING}))):
        trigger = takes.AUTHORIZATION_LOST if lost else unusable_bundle(session, reasoning,
                                                                         rt.settings)
        if trigger is not None:
            parts.append(escalate.hand_off(session, trigger, signer=rt.signer, now=now,
                                           evidence=[f"policy:{session.policy_hash}"]
                                           if not lost else None))
    return combine(parts)
