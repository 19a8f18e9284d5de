"""Manual escalation (`serbero escalate`): an operator hands a dispute to human solvers, with a
note and optionally the recipients, through the same exactly-once handoff writer as every other
escalation. Validates everything before writing anything; never enqueues (the CLI does, after
commit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from serbero.config import Settings
from serbero.disputes import lifecycle
from serbero.disputes.queries import get_dispute
from serbero.errors import SerberoError
from serbero.escalation import handoff, routing
from serbero.escalation.handoff import Prepared
from serbero.escalation.models import MANUAL_TRIGGER, EscalationHandoff
from serbero.nostr.keys import short

#: Longest note accepted; it is kept in the audit row, only its hash travels in the handoff.
MAX_NOTE_CHARS = 2000


class EscalationRefused(SerberoError):
    """Raised when a manual escalation cannot make sense (the dispute is resolved, the note is
    too long); nothing has been written."""


@dataclass(frozen=True)
class ManualEscalation:
    dispute_id: str
    prepared: Prepared
    #: Who receives it: pinned (`--to`, or an earlier dispatch) or the current routing.
    route: routing.Route


def note_reference(note: str) -> str:
    """The note's place in the handoff's evidence: its hash (the text stays in the audit row)."""
    return "note:sha256:" + hashlib.sha256(note.encode("utf-8", "surrogatepass")).hexdigest()


def escalate(dispute_id: str, *, settings: Settings, operator: str, now: int,
             note: str | None = None, to: Iterable[str] = (), again: bool = False,
             session_id: str | None = None, force: bool = False) -> ManualEscalation:
    """Escalate a dispute by hand with trigger `manual`. A repeat writes nothing and returns
    the first handoff, unless `again`. Raises NotFound for an unknown dispute, ValueError for
    a malformed `to` pubkey and EscalationRefused for a resolved dispute, for `to` naming
    Serbero's own key, or (unless `force`) a key that is not a configured solver."""
    pinned = routing.manual(to) if to else None
    if pinned is not None:
        _check_recipients(pinned.recipients, settings, force=force)
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise EscalationRefused(f"the note has {len(note)} characters; keep it under "
                                f"{MAX_NOTE_CHARS} and put details where solvers can find them.")
    dispute = get_dispute(dispute_id)
    if dispute.lifecycle_state == lifecycle.RESOLVED:
        raise EscalationRefused(
            f"dispute {dispute_id} is already resolved (Mostro status {dispute.dispute_status}); "
            "there is nothing left for a solver to take.")
    details: dict[str, object] = {"requested_by": operator, "note": note or ""}
    if again:
        details["again"] = True
    prepared = handoff.prepare(
        dispute_id, trigger=MANUAL_TRIGGER, now=now, session_id=session_id,
        evidence_refs=[note_reference(note)] if note else [], again=again, pinned=pinned,
        requested_by=operator, details=details)
    route = pinned or _route_of(prepared, dispute.assigned_solver, settings)
    return ManualEscalation(dispute_id, prepared, route)


def _check_recipients(recipients: Iterable[str], settings: Settings, *, force: bool) -> None:
    """A handoff must reach a human: never Serbero itself (its own DM would also be read back as
    a Mostro reply; issues 10 and 11), and a key no solver is configured with is most likely a
    typo, sent only with `force` (issue 10)."""
    configured = {s.hex_pubkey for s in settings.solvers if s.hex_pubkey}
    for pubkey in recipients:
        if pubkey == settings.serbero_pubkey:
            raise EscalationRefused(
                f"--to {short(pubkey)} is Serbero's own key; a handoff must reach a human "
                "solver, and a DM to itself would be read back as a Mostro reply. Name a "
                "solver's key, or leave --to out to use the routing.")
        if pubkey not in configured and not force:
            raise EscalationRefused(
                f"--to {short(pubkey)} is not a configured solver; check the key (`serbero "
                "check-config` lists the solvers), or add --force to send it anyway.")


def _route_of(prepared: Prepared, assigned_solver: str | None, settings: Settings) -> routing.Route:
    row = EscalationHandoff.get_by_id(prepared.handoff_id)
    if row.route and row.recipients:
        return routing.Route(row.route, tuple(row.recipient_list), len(settings.solvers))
    return routing.route(settings.solvers, assigned_solver=assigned_solver,
                         fallback_to_all_solvers=settings.escalation.fallback_to_all_solvers)
