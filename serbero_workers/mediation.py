"""Actors of the `mediation` queue: every model call runs here, never on `events` or `notify`,
so a slow provider can only delay other model calls. Their time limit covers the configured
chain's worst case, which configuration refuses to let exceed MEDIATION_JOB_LIMIT_S.
"""

from __future__ import annotations

import dramatiq

from serbero import clock, ticks
from serbero.mediation import check
from serbero.mediation import daemon as mediation_daemon
from serbero.reasoning import setup
from serbero.reasoning.limits import MEDIATION_JOB_LIMIT_S
from serbero_workers import wiring
from serbero_workers.actors import RETRIED
from serbero_workers.wiring import follow_up, runtime

QUEUE = ticks.MEDIATION
#: dramatiq's priority of mediation's jobs (lower runs first): a worker holding a notice and a
#: mediation job runs the notice first.
PRIORITY = 10
#: The chain's worst case plus time for the database writes around it (ms).
TIME_LIMIT_MS = (MEDIATION_JOB_LIMIT_S + 60) * 1000
#: A check makes two calls per provider (health, then a classification).
CHECK_TIME_LIMIT_MS = (2 * MEDIATION_JOB_LIMIT_S + 60) * 1000


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, max_retries=0,
                time_limit=TIME_LIMIT_MS, priority=PRIORITY)
def run_mediation_tick(name: str, bucket: int) -> None:
    """A periodic job that calls a model (the background health check), once per bucket."""
    follow_up(ticks.run(name, runtime(), clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, max_retries=0,
                time_limit=CHECK_TIME_LIMIT_MS)
def run_reasoning_check(check_id: str) -> None:
    """`serbero reasoning check --on-worker`: check every provider from this worker, record the
    report under `check_id` for the command to read."""
    check.record(runtime().settings, check_id, now=clock.now())


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, max_retries=3,
                time_limit=TIME_LIMIT_MS, priority=PRIORITY)
def start_mediation(dispute_id: str, trigger: str = "detected") -> None:
    """Start mediating a new dispute: the opening classification, then the take or a handoff;
    a repeat finds the dispute claimed and does nothing."""
    follow_up(mediation_daemon.start_job(dispute_id, runtime(), clock.now(), trigger))


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, max_retries=3,
                time_limit=TIME_LIMIT_MS, priority=PRIORITY)
def mediation_timer(session_id: str, kind: str, token: str) -> None:
    """A session's delayed work (quiet period, reply deadline, summary, forwarding); a stale
    token means the session moved on."""
    follow_up(mediation_daemon.timer_job(session_id, kind, token, runtime(), clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, max_retries=3, time_limit=60_000,
                priority=PRIORITY)
def mediation_hand_off(session_id: str, trigger: str) -> None:
    """Hand a session to a person for code that could not sign the parties' notices."""
    follow_up(mediation_daemon.hand_off_job(session_id, trigger, runtime(), clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, priority=PRIORITY, **RETRIED)
def publish_mediation_row(row_id: int) -> None:
    """Publish one of mediation's messages (to a party, or its DMs to solvers)."""
    wiring.publish(row_id)


class BringUpAtBoot(dramatiq.Middleware):
    """Bring the reasoning layer up when a worker process boots, so a missing prompt file is
    reported (one error line) at start-up rather than at the first mediation job."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        setup.current(runtime().settings)


wiring.broker().add_middleware(BringUpAtBoot())
