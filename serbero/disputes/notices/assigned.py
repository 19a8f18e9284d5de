"""The notice that a solver took a dispute (ASSIGN-4), and its takeover variant: Mostro tells
the parties of a takeover but not the solver who had the dispute (mostro#302)."""

from serbero.db.models import Dispute


def text(dispute: Dispute, now: int) -> str:
    return (
        "Mostro dispute has been taken.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"assigned_solver: {dispute.assigned_solver or 'unknown'}\n"
        f"lifecycle_state: {dispute.lifecycle_state}"
    )


def takeover_text(dispute: Dispute, now: int) -> str:
    """The lines below the subject when a newer take replaced an earlier one."""
    return (
        "Mostro dispute has been taken over: a newer take replaced the previous assignment.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"assigned_solver: {dispute.assigned_solver or 'unknown'}\n"
        f"lifecycle_state: {dispute.lifecycle_state}"
    )
