"""The tier chain of one dispute, as steps: `start` (inside the detection's transaction: the
chain's row and the first tier's first notice), `step` (a delayed job: the next notice of the
tier, or the next tier), and `scan_due` (the periodic safety net for a step whose message was
lost with a flushed Redis or a dead worker).

dramatiq cannot revoke a message, so every step carries the token stored on the chain's row
and claims the row by swapping it (`UPDATE … WHERE step_token = ?`): a step whose token is no
longer there (acknowledged, taken, resolved, or another step ran first) is dropped, logged at
debug and counted. The database decides whether a step still applies, never the queue.

Rules chosen here (README "Acknowledgements and escalation tiers"):
* a tier's notices go to its solvers who are awake; solvers inside their quiet hours are
  skipped for that tier, and said so in the audit;
* if every solver of a tier is quiet, the step goes on to the next tier at once (audited); the
  last tier is never silent: with everyone quiet, its solvers are told anyway;
* a solver's first notice of a dispute is the new-dispute notice, later ones are reminders;
* observers and webhooks hear about an unacknowledged dispute only from a tier naming them.
"""

from __future__ import annotations

import logging
import uuid

from nostr_sdk import Keys

from serbero import rejections
from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, Outbox, audit
from serbero.disputes import lifecycle, notices, notify
from serbero.followup import NOTHING, FollowUp, Later, combine
from serbero.messages import copies
from serbero.nostr.keys import short
from serbero.outbox import PENDING, SENT
from serbero.tiers import audience
from serbero.tiers.config import OBSERVERS, WEBHOOKS, TierEntry
from serbero.tiers.models import NotificationTier

log = logging.getLogger(__name__)

#: The job a step's message runs (serbero_workers/actors.py).
STEP_JOB = "notification_step"
#: The scan replaces a step this late: its own message had time to run.
LATE_S = 15
SCAN_BATCH = 200
#: States in which a dispute still climbs the chain.
CLIMBING = (lifecycle.NEW, lifecycle.NOTIFIED)
ACKNOWLEDGED, TAKEN, RESOLVED, EXHAUSTED = "acknowledged", "taken", "resolved", "exhausted"


def enabled(settings: Settings) -> bool:
    return bool(settings.notifications.tiers)


def _token() -> str:
    return uuid.uuid4().hex


def start(dispute: Dispute, *, settings: Settings, signer: Keys, now: int) -> FollowUp:
    """Open the chain of a dispute just detected and send the first tier's first notice. Call
    inside the detection's transaction."""
    token = _token()
    suggested = audience.suggest(settings, now)
    NotificationTier.insert(dispute_id=dispute.dispute_id, tier_index=0, tier_entered_at=now,
                            sent_in_tier=0, step_token=token, next_step_at=now,
                            suggested_solver=suggested,
                            suggested_at=now if suggested else None, started_at=now,
                            updated_at=now).on_conflict_ignore().execute()
    audit("tier_chain_started", dispute_id=dispute.dispute_id, at=now,
          suggested=short(suggested) if suggested else None)
    return _act(dispute.dispute_id, token, settings=settings, signer=signer, now=now)


def step(dispute_id: str, token: str, *, settings: Settings, signer: Keys,
         now: int) -> FollowUp:
    """The body of a delayed step: act if `token` is still the chain's, else do nothing."""
    with database.atomic():
        fresh = _token()
        won = (NotificationTier.update(step_token=fresh, updated_at=now)
               .where((NotificationTier.dispute_id == dispute_id)
                      & (NotificationTier.step_token == token)).execute())
        if not won:
            rejections.count(settings, "stale_tier_step")
            log.debug("tier_step_stale", extra={"dispute_id": dispute_id})
            return NOTHING
        return _act(dispute_id, fresh, settings=settings, signer=signer, now=now)


def scan_due(now: int, settings: Settings, signer: Keys) -> FollowUp:
    """Run the steps whose message is overdue (lost); a step that did run meanwhile has
    changed the token, so this one is dropped as stale."""
    due = list(NotificationTier.select(NotificationTier.dispute_id, NotificationTier.step_token)
               .where(NotificationTier.step_token.is_null(False)
                      & (NotificationTier.next_step_at <= now - LATE_S))
               .order_by(NotificationTier.next_step_at).limit(SCAN_BATCH).tuples())
    return combine(step(d, t, settings=settings, signer=signer, now=now) for d, t in due)


def stop(dispute_id: str, reason: str, now: int, *, token: str | None = None) -> bool:
    """End a dispute's chain (any pending step becomes stale); True if it was running."""
    where = (NotificationTier.dispute_id == dispute_id) & NotificationTier.step_token.is_null(
        False)
    if token is not None:
        where &= NotificationTier.step_token == token
    stopped = (NotificationTier.update(step_token=None, next_step_at=None, stopped_reason=reason,
                                       updated_at=now).where(where).execute()) == 1
    if stopped:
        audit("tier_chain_stopped", dispute_id=dispute_id, at=now, reason=reason)
        log.info("tier_chain_stopped", extra={"dispute_id": dispute_id, "reason": reason})
    return stopped


def _stop_reason(dispute: Dispute | None) -> str | None:
    if dispute is None or dispute.lifecycle_state == lifecycle.RESOLVED:
        return RESOLVED
    if dispute.acknowledged_at is not None:
        return ACKNOWLEDGED
    if dispute.lifecycle_state not in CLIMBING:
        return TAKEN
    return None


def _act(dispute_id: str, token: str, *, settings: Settings, signer: Keys,
         now: int) -> FollowUp:
    """With the chain's token held: send what is due now and schedule the next step."""
    row = NotificationTier.get_by_id(dispute_id)
    dispute = Dispute.get_or_none(Dispute.dispute_id == dispute_id)
    why = _stop_reason(dispute)
    if why is not None:
        stop(dispute_id, why, now, token=token)
        return NOTHING
    tiers = settings.notifications.tiers
    index, entered, sent = row.tier_index, row.tier_entered_at, row.sent_in_tier
    parts: list[FollowUp] = []
    while True:
        if index >= len(tiers):
            stop(dispute_id, EXHAUSTED, now, token=token)
            return combine(parts)
        tier = tiers[index]
        last = index + 1 >= len(tiers)
        if sent > 0 and now >= entered + tier.wait_seconds:
            if last:
                stop(dispute_id, EXHAUSTED, now, token=token)
                return combine(parts)
            index, entered, sent = index + 1, now, 0
            _reached(dispute_id, index, now, "wait_elapsed")
            continue
        if sent < tier.repeat and now >= entered + sent * tier.spacing_s():
            told = _notify(tier, index, dispute, row.suggested_solver, settings=settings,
                           signer=signer, now=now, last=last)
            if told is None:  # nobody of this tier is awake: on to the next tier at once
                index, entered, sent = index + 1, now, 0
                _reached(dispute_id, index, now, "nobody_awake")
                continue
            parts.append(told)
            sent += 1
        break
    next_at = _next_at(tier, entered, sent)
    (NotificationTier.update(tier_index=index, tier_entered_at=entered, sent_in_tier=sent,
                             next_step_at=next_at, updated_at=now)
     .where((NotificationTier.dispute_id == dispute_id)
            & (NotificationTier.step_token == token)).execute())
    return combine(parts).then(FollowUp(later=(Later(STEP_JOB, next_at, (dispute_id, token)),)))


def _next_at(tier: TierEntry, entered: int, sent: int) -> int:
    """The tier's next reminder if it has one left within its wait, else its wait's end."""
    reminder = entered + sent * tier.spacing_s()
    if sent < tier.repeat and reminder < entered + tier.wait_seconds:
        return reminder
    return entered + tier.wait_seconds


def _reached(dispute_id: str, index: int, now: int, why: str) -> None:
    audit("tier_reached", dispute_id=dispute_id, at=now, tier=index + 1, reason=why)
    log.info("tier_reached", extra={"dispute_id": dispute_id, "tier": index + 1, "reason": why})


def _notify(tier: TierEntry, index: int, dispute: Dispute, suggested: str | None, *,
            settings: Settings, signer: Keys, now: int, last: bool) -> FollowUp | None:
    """This tier's notice now; None when its whole audience is quiet and a next tier exists."""
    if tier.audience in (OBSERVERS, WEBHOOKS):
        return _bystanders(tier, dispute, settings=settings, signer=signer, now=now)
    solvers = audience.solvers_of(tier, suggested=suggested, assigned=dispute.assigned_solver,
                                  settings=settings)
    reach = audience.reach(solvers, now)
    if reach.quiet:
        audit("tier_quiet_hours", dispute_id=dispute.dispute_id, at=now, tier=index + 1,
              skipped=[short(k) for k in reach.quiet], told_anyway=not reach.awake and last)
    targets = reach.awake or (reach.quiet if last else ())
    if not targets:
        return None if not last else NOTHING
    told = _told_initial(dispute.dispute_id)
    first = {k for k in targets if k not in told}
    again = set(targets) - first
    parts = [notify.fan_out(dispute, notif_type, settings=settings, signer=signer, now=now,
                            include_invalid=False, with_copies=False, to=keys)
             for notif_type, keys in ((notices.INITIAL, first), (notices.TIER_REMINDER, again))
             if keys]
    return combine(parts)


def _told_initial(dispute_id: str) -> set[str]:
    """Solvers whose new-dispute notice is on its way or delivered."""
    return {r for (r,) in Outbox.select(Outbox.recipient).where(
        (Outbox.dispute == dispute_id) & (Outbox.notice_type == notices.INITIAL)
        & (Outbox.purpose == notify.PURPOSE.name) & Outbox.status.in_((PENDING, SENT))).tuples()}


def _bystanders(tier: TierEntry, dispute: Dispute, *, settings: Settings, signer: Keys,
                now: int) -> FollowUp:
    """An observers' or webhooks' tier: the reminder's copies to them alone."""
    only = (settings.replace(webhooks=()) if tier.audience == OBSERVERS
            else settings.replace(observers=()))
    message = notices.message(dispute, notices.TIER_REMINDER, now)
    rows = copies.rows(message, settings=only, signer=signer, now=now)
    return FollowUp(publish=tuple(copies.write(message, rows, settings=only, now=now)))
