"""Mediation's messages to solvers (the summary, the transcript, forwarded party messages, the
resolution report): one signed DM per recipient, in the recipient's configured form, stored in
the outbox with a notification row, inside the deciding transaction. Who receives them is the
caller's choice (`recipients_for`: the assigned write solver, else every write solver, as a
handoff is routed; the report goes to everyone).
"""

from __future__ import annotations

from collections.abc import Iterable

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.models import Dispute, Notification
from serbero.disputes import notify
from serbero.escalation import routing
from serbero.followup import Publish
from serbero.messages.message import SolverMessage

#: The outbox purpose of these DMs (hooks in `delivery`).
PURPOSE_NAME = "mediation_dm"
#: notifications.notif_type of each kind of DM (stored codes).
SUMMARY = "mediation_summary"
TRANSCRIPT = "mediation_transcript"
FORWARD = "mediation_forward"
REPORT = "mediation_resolution_report"
REPUBLISH_AFTER_S = 15


def recipients_for(dispute_id: str, settings: Settings) -> routing.Route:
    """The handoff routing (DISP-8) for mediation's DMs: the assigned write solver, else every
    write solver, else everyone if `fallback_to_all_solvers`; unroutable otherwise. Serbero's
    own take makes it the assigned solver, which is no configured solver: every write solver
    hears (ROUTE-3)."""
    assigned = Dispute.select(Dispute.assigned_solver).where(
        Dispute.dispute_id == dispute_id).scalar()
    return routing.route(settings.solvers, assigned_solver=assigned,
                         fallback_to_all_solvers=settings.escalation.fallback_to_all_solvers)


def everyone(settings: Settings) -> tuple[str, ...]:
    """Every configured solver, each key once (XRES-6)."""
    return tuple(dict.fromkeys(s.pubkey for s in settings.solvers))


def write(message: SolverMessage, recipients: Iterable[str], *, notif_type: str,
          settings: Settings, signer: Keys, now: int,
          stamp: int | None = None) -> list[Publish]:
    """One DM per recipient (`notify.write_dms`); `stamp` dates the events (a transcript is
    dated a second after the DM it follows, so clients that sort by time show it second)."""
    return notify.write_dms(message, recipients, purpose=PURPOSE_NAME,
                            republish_after_s=REPUBLISH_AFTER_S, notif_type=notif_type,
                            settings=settings, signer=signer, now=now, stamp=stamp)


def alive(dispute_id: str, notif_type: str) -> bool:
    """Whether a DM of this type about the dispute is still on its way or delivered."""
    return Notification.select().where((Notification.dispute == dispute_id)
                                       & (Notification.notif_type == notif_type)
                                       & Notification.status.in_(("pending", "sent"))).exists()
