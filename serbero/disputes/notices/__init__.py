"""Solver notice texts, one module per kind, joined by `TEXTS`: notif_type → text builder, and
`message()`, which dresses a notice as a solver message (its subject and the lines below it).

Each builder is a pure function of the dispute row (and the moment), so the same text comes out
in a worker, in `serbero run` and in a test. The first three texts are the original's, byte for
byte (NOTIF-2, RENOT-3, ASSIGN-4); in the Mostro v2 form they follow the subject line.
"""

from collections.abc import Callable

from serbero.db.models import Dispute
from serbero.disputes.notices import (
    acknowledged,
    assigned,
    mediating,
    new_dispute,
    renotify,
    resolved,
)
from serbero.messages import message as subjects
from serbero.messages.message import SolverMessage

INITIAL = "initial"
RENOTIFICATION = "re-notification"
ASSIGNMENT = "assignment"
RESOLUTION = "resolution"
MEDIATING = "mediating"
ACKNOWLEDGED = "acknowledged"
#: A tier's reminder (issue 9): the re-notification's text, counted by the tiers, not GAP-9.
TIER_REMINDER = "tier-reminder"

TEXTS: dict[str, Callable[[Dispute, int], str]] = {
    INITIAL: new_dispute.text,
    RENOTIFICATION: renotify.text,
    ASSIGNMENT: assigned.text,
    RESOLUTION: resolved.text,
    MEDIATING: mediating.text,
    ACKNOWLEDGED: acknowledged.text,
    TIER_REMINDER: renotify.text,
}

SUBJECTS: dict[str, Callable[[Dispute, int], str]] = {
    INITIAL: lambda d, now: subjects.NEW,
    RENOTIFICATION: lambda d, now: subjects.unattended(max(0, now - d.event_timestamp) // 60),
    ASSIGNMENT: lambda d, now: subjects.TAKEN,
    RESOLUTION: lambda d, now: subjects.resolved(d.dispute_status),
    MEDIATING: lambda d, now: subjects.MEDIATING,
    ACKNOWLEDGED: lambda d, now: subjects.acknowledged(
        acknowledged.solver_name(d.acknowledged_by)),
}
SUBJECTS[TIER_REMINDER] = SUBJECTS[RENOTIFICATION]


def message(dispute: Dispute, notif_type: str, now: int, *,
            takeover: bool = False) -> SolverMessage:
    """The notice as a solver message. A takeover (a newer take of a dispute already taken)
    says so below its `taken` subject; the original's text is the same for both."""
    original = TEXTS[notif_type](dispute, now)
    body = assigned.takeover_text(dispute, now) if takeover else original
    return SolverMessage(dispute_id=dispute.dispute_id, subject=SUBJECTS[notif_type](dispute, now),
                         body=body, original=original, notice_type=notif_type,
                         lifecycle_state=dispute.lifecycle_state, occurred_at=now)
