"""The first notice about a dispute (NOTIF-2)."""

from serbero.db.models import Dispute


def text(dispute: Dispute, now: int) -> str:
    return (
        "New Mostro dispute requires attention.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"initiator: {dispute.initiator_role}\n"
        f"event_timestamp: {dispute.event_timestamp}\n"
        "status: initiated"
    )
