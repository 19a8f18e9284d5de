"""Periodic jobs, as one table: each job's name, its period (from the settings), its body, and
the queue it runs on.

The ticker decides *when* (once per period across the cluster); this table says *what*: each
job re-derives its work from the database, so a lost or repeated tick costs nothing, and
returns its follow-up (what to publish). A new periodic job is one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from serbero import outbox
from serbero.config import Settings
from serbero.disputes import reminders
from serbero.escalation import scan as escalation
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import daemon as mediation_daemon
from serbero.mostro import daemon as mostro_daemon
from serbero.runtime import Runtime
from serbero.tiers import steps as tier_steps

#: Seconds between outbox re-publication scans.
OUTBOX_PERIOD_S = 5
#: Seconds between scans for disputes that no solver has heard of yet (GAP-3).
UNNOTIFIED_PERIOD_S = 30
#: Seconds between mediation's scans (lost timers, take answers, subscriptions, starts).
MEDIATION_PERIOD_S = 5
#: Seconds between scans for tier steps whose delayed message was lost (issue 9).
TIERS_PERIOD_S = 10


#: Queues a periodic job runs on: `ticks` for scans, `mediation` for a job that calls a model
#: (it must never wait beside, or delay, notices).
TICKS, MEDIATION = "ticks", "mediation"


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    period_s: Callable[[Settings], int]
    run: Callable[[Runtime, int], FollowUp]
    queue: str = TICKS


def _reasoning_health(rt: Runtime, now: int) -> FollowUp:
    """Ping idle model providers so a session reads fresh health before it opens (GAP-15)."""
    from serbero.reasoning import setup

    reasoning = setup.current(rt.settings)
    if reasoning is not None:
        reasoning.chain.refresh_health()
    return NOTHING


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("renotify", lambda s: s.timeouts.renotification_check_interval_seconds,
                lambda rt, now: reminders.renotify_due(now, rt.settings, rt.signer)),
    PeriodicJob("unnotified", lambda s: UNNOTIFIED_PERIOD_S,
                lambda rt, now: reminders.retry_unnotified(now, rt.settings, rt.signer)),
    PeriodicJob("outbox", lambda s: OUTBOX_PERIOD_S, lambda rt, now: outbox.claim_due(now)),
    PeriodicJob("tiers", lambda s: TIERS_PERIOD_S,
                lambda rt, now: tier_steps.scan_due(now, rt.settings, rt.signer)),
    PeriodicJob("escalation", lambda s: s.escalation.dispatch_interval_seconds, escalation.tick),
    PeriodicJob("mostro_takes", lambda s: mostro_daemon.SWEEP_PERIOD_S, mostro_daemon.sweep),
    PeriodicJob("reasoning_health", lambda s: s.reasoning.health_check_interval_seconds,
                _reasoning_health, queue=MEDIATION),
    # Mediation's safety net (lost timers, take answers, subscriptions, stale bundles, starts):
    # it calls no model, but it is mediation's work, so it never waits beside notices.
    PeriodicJob("mediation", lambda s: MEDIATION_PERIOD_S, mediation_daemon.tick,
                queue=MEDIATION),
)
_BY_NAME = {job.name: job for job in JOBS}


def periods(settings: Settings) -> dict[str, int]:
    """Job name → period in seconds."""
    return {job.name: job.period_s(settings) for job in JOBS}


def queue(name: str) -> str:
    """The queue job `name` runs on."""
    return _BY_NAME[name].queue


def run(name: str, rt: Runtime, now: int) -> FollowUp:
    """Run one periodic job; an unknown name is a programming error, not input."""
    return _BY_NAME[name].run(rt, now)
