"""The notice that a solver acknowledged a dispute, told once to the other solvers who heard of
it (issue 9), so nobody wonders whether someone has seen it."""

from nostr_sdk import PublicKey

from serbero.db.models import Dispute


def solver_name(hex_pubkey: str | None) -> str:
    """How the notice names the solver: their npub, as Mostro clients show solvers."""
    if not hex_pubkey:
        return "unknown"
    try:
        return PublicKey.parse(hex_pubkey).to_bech32()
    except Exception:  # a stored value this version cannot parse is still shown
        return hex_pubkey[:64]


def text(dispute: Dispute, now: int) -> str:
    return (
        "Mostro dispute has been acknowledged by a solver; it is not taken yet.\n"
        f"dispute_id: {dispute.dispute_id}\n"
        f"acknowledged_by: {solver_name(dispute.acknowledged_by)}\n"
        f"lifecycle_state: {dispute.lifecycle_state}"
    )
