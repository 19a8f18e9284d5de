"""Mediation's messages to solvers (the summary, the transcript, forwarded party messages, the
resolution report): one signed DM per recipient, in the recipient's configured form, stored in
the outbox with a notification row, inside the deciding transaction. Who receives them is the
caller's choice (`recipients_for`: the assigned write solver, else every write solver, as a
handoff is routed; the report goes to everyone).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from nostr_sdk import Keys

from serbero import outbox
from serbero.config import Settings
from serbero.db.models import Dispute, Notification
from serbero.escalation import routing
from serbero.followup import Publish
from serbero.messages import formats
from serbero.messages.message import SolverMessage
from serbero.nostr.keys import parse_public_key
from serbero.outbox import NOSTR, NewRow

log = logging.getLogger(__name__)

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
    """One DM per recipient; a pubkey that does not parse is a failed notification
    (`invalid pubkey: …`) and blocks no one. `stamp` dates the events (a transcript is dated a
    second after the DM it follows, so clients that sort by time show it second)."""
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
        rows.append((pubkey, NewRow(channel=NOSTR, purpose=PURPOSE_NAME, recipient=hex_pubkey,
                                    message_id=event.id().to_hex(), body=event.as_json(),
                                    republish_after_s=REPUBLISH_AFTER_S,
                                    dispute_id=message.dispute_id, notice_type=notif_type)))
    queued = outbox.write([row for _, row in rows], now=now)
    for (pubkey, _), publish in zip(rows, queued, strict=True):
        Notification.create(dispute=message.dispute_id, solver_pubkey=pubkey, status="pending",
                            notif_type=notif_type, outbox=publish.row_id, created_at=now)
    return queued


def alive(dispute_id: str, notif_type: str) -> bool:
    """Whether a DM of this type about the dispute is still on its way or delivered."""
    return Notification.select().where((Notification.dispute == dispute_id)
                                       & (Notification.notif_type == notif_type)
                                       & Notification.status.in_(("pending", "sent"))).exists()
