"""Periodic jobs: their names, how often each runs, and what each does.

The ticker decides *when* (once per period across the cluster); this module says *what*: each
job re-derives its work from the database, so a lost or repeated tick costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from serbero import outbox
from serbero.config import Settings
from serbero.disputes import reminders
from serbero.escalation import scan as escalation
from serbero.mostro import daemon as mostro_daemon
from serbero.runtime import Runtime

#: Seconds between outbox re-publication scans.
OUTBOX_PERIOD_S = 5
#: Seconds between scans for disputes that no solver has heard of yet (GAP-3).
UNNOTIFIED_PERIOD_S = 30


def _renotify(rt: Runtime, now: int) -> list[int]:
    return reminders.renotify_due(now, rt.settings, rt.signer)


def _unnotified(rt: Runtime, now: int) -> list[int]:
    return reminders.retry_unnotified(now, rt.settings, rt.signer)


def _outbox(rt: Runtime, now: int) -> list[int]:
    return outbox.claim_due(now)


def _reasoning_health(rt: Runtime, now: int) -> list[int]:
    """Ping idle model providers so a session reads fresh health before it opens (GAP-15)."""
    from serbero.reasoning import setup

    reasoning = setup.current(rt.settings)
    if reasoning is not None:
        reasoning.chain.refresh_health()
    return []


#: Job name → body; each returns the outbox ids to publish.
JOBS: dict[str, Callable[[Runtime, int], list[int]]] = {
    "renotify": _renotify,
    "unnotified": _unnotified,
    "outbox": _outbox,
    "escalation": escalation.tick,
    "mostro_takes": mostro_daemon.sweep,
    "reasoning_health": _reasoning_health,
}
#: Jobs that call a model: they run on the `mediation` queue, never beside notices.
MEDIATION_JOBS = frozenset({"reasoning_health"})


def periods(settings: Settings) -> dict[str, int]:
    """Job name → period in seconds."""
    return {
        "renotify": settings.timeouts.renotification_check_interval_seconds,
        "unnotified": UNNOTIFIED_PERIOD_S,
        "outbox": OUTBOX_PERIOD_S,
        "escalation": settings.escalation.dispatch_interval_seconds,
        "mostro_takes": mostro_daemon.SWEEP_PERIOD_S,
        "reasoning_health": settings.reasoning.health_check_interval_seconds,
    }


def run(name: str, rt: Runtime, now: int) -> list[int]:
    """Run one periodic job; an unknown name is a programming error, not input."""
    return JOBS[name](rt, now)
