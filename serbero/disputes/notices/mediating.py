"""The notice that Serbero took a dispute to mediate it: its own take is not a solver's, and any
solver can take the dispute over, which stops Serbero at once (issue 12, GAP-21)."""

from serbero.db.models import Dispute


def text(dispute: Dispute, now: int) -> str:
    return (
        "Serbero took this dispute to mediate it: it asks the buyer and the seller questions "
        "in the dispute chat and reports to the solvers. It cannot move funds or decide.\n"
        "A solver can take over at any time (take the dispute in Mostro); Serbero stops as "
        "soon as one does.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"lifecycle_state: {dispute.lifecycle_state}"
    )
