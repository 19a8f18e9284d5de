"""The notice that a solver took a dispute (ASSIGN-4)."""

from serbero.db.models import Dispute


def text(dispute: Dispute, now: int) -> str:
    return (
        "Mostro dispute has been taken.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"assigned_solver: {dispute.assigned_solver or 'unknown'}\n"
        f"lifecycle_state: {dispute.lifecycle_state}"
    )
