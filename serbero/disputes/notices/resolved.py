"""The notice that a dispute is closed, so no solver keeps working on it (new in Serbero)."""

from serbero.db.models import Dispute


def text(dispute: Dispute, now: int) -> str:
    return (
        "Mostro dispute has been resolved.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"status: {dispute.dispute_status}\n"
        f"lifecycle_state: {dispute.lifecycle_state}"
    )
