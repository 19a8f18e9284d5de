"""The reminder about a dispute nobody took yet (RENOT-3); elapsed time counts from the event."""

from serbero.db.models import Dispute


def text(dispute: Dispute, now: int) -> str:
    return (
        "Mostro dispute is still unattended.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"lifecycle_state: {dispute.lifecycle_state}\n"
        f"time_elapsed_seconds: {max(0, now - dispute.event_timestamp)}"
    )
