"""Who receives a handoff (DISP-8): the assigned write solver, else every write solver, else
every solver when `fallback_to_all_solvers` is on, else nobody (unroutable).

Pure functions of the configuration and the dispute's assigned solver. Recipients are the
configured pubkey strings, verbatim: one that does not parse still counts as a recipient and is
recorded as a failed send (`invalid pubkey: …`), as the original does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from serbero.config import SolverEntry
from serbero.nostr.keys import parse_public_key

TARGETED = "targeted"
BROADCAST = "broadcast"
FALLBACK = "fallback"
#: An operator named the recipients (`serbero escalate --to`); pinned when the handoff is made.
MANUAL = "manual"
UNROUTABLE = "unroutable"


@dataclass(frozen=True)
class Route:
    kind: str
    recipients: tuple[str, ...]
    #: Configured solvers of any permission (EVT-20's `configured_solver_count`).
    configured_solver_count: int = 0

    @property
    def fallback_broadcast(self) -> bool:
        return self.kind == FALLBACK


def _hex(pubkey: str | None) -> str | None:
    try:
        return parse_public_key(pubkey) if pubkey else None
    except ValueError:
        return None


def _distinct(solvers: Iterable[SolverEntry]) -> list[SolverEntry]:
    """Config order, each parseable key once (as npub and as hex it is the same solver)."""
    seen: set[str] = set()
    out = []
    for solver in solvers:
        key = solver.hex_pubkey or solver.pubkey
        if key not in seen:
            seen.add(key)
            out.append(solver)
    return out


def route(solvers: Iterable[SolverEntry], *, fallback_to_all_solvers: bool,
          assigned_solver: str | None) -> Route:
    """DISP-8. An assigned solver with `read` permission is ignored (rule 2 applies)."""
    configured = list(solvers)
    distinct = _distinct(configured)
    writers = [s for s in distinct if s.permission == "write"]
    assigned = _hex(assigned_solver)
    count = len(configured)
    for solver in writers:
        if assigned is not None and solver.hex_pubkey == assigned:
            return Route(TARGETED, (solver.pubkey,), count)
    if writers:
        return Route(BROADCAST, tuple(s.pubkey for s in writers), count)
    if fallback_to_all_solvers and distinct:
        return Route(FALLBACK, tuple(s.pubkey for s in distinct), count)
    return Route(UNROUTABLE, (), count)


def can_route(solvers: Iterable[SolverEntry], *, fallback_to_all_solvers: bool) -> bool:
    """Whether any handoff can be routed at all: unroutability depends on the configuration
    alone, so a parked handoff is worth another look exactly when this turns true."""
    return route(solvers, fallback_to_all_solvers=fallback_to_all_solvers,
                 assigned_solver=None).kind != UNROUTABLE


def manual(pubkeys: Iterable[str]) -> Route:
    """An operator's explicit recipients, as hex, each once, in the order given."""
    hexes = [parse_public_key(p) for p in pubkeys]
    return Route(MANUAL, tuple(dict.fromkeys(hexes)))

