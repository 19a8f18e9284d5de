"""Who a tier reaches: its solvers (the assigned or suggested one, every write solver, every
solver) minus those inside their quiet hours, and the round-robin suggestion that spreads first
contact across write solvers by load.

Load is the number of open disputes a write solver has taken or acknowledged; ties go to the
solver suggested least recently, then to the configuration's order. Two disputes detected in
the same instant may get the same suggestion (both read the same counts): a harmless race,
accepted on purpose, since the next tier reaches the others anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from peewee import fn

from serbero.config import Settings, SolverEntry
from serbero.db.models import Dispute
from serbero.disputes import lifecycle
from serbero.tiers import quiet
from serbero.tiers.config import ALL, ASSIGNED, WRITE, TierEntry
from serbero.tiers.models import NotificationTier

#: States in which a dispute still weighs on the solver who has it.
OPEN_STATES = (lifecycle.NEW, lifecycle.NOTIFIED, lifecycle.TAKEN, lifecycle.WAITING,
               lifecycle.ESCALATED)


@dataclass(frozen=True)
class Reach:
    """A tier's solvers at one moment: who is awake, and who was skipped for quiet hours."""

    awake: tuple[str, ...]
    quiet: tuple[str, ...]


def _valid(solvers: Sequence[SolverEntry]) -> list[SolverEntry]:
    seen: set[str] = set()
    out = []
    for solver in solvers:
        if solver.hex_pubkey and solver.hex_pubkey not in seen:
            seen.add(solver.hex_pubkey)
            out.append(solver)
    return out


def writers(settings: Settings) -> list[SolverEntry]:
    return [s for s in _valid(settings.solvers) if s.permission == "write"]


def suggest(settings: Settings, now: int) -> str | None:
    """The write solver first contact should go to: awake if anyone is, least loaded, then
    least recently suggested. None without write solvers."""
    candidates = writers(settings)
    if not candidates:
        return None
    awake = [s for s in candidates if not quiet.quiet(s, now)] or candidates
    keys = [s.hex_pubkey for s in awake]
    load = {key: 0 for key in keys}
    for assigned, acknowledger in (Dispute.select(Dispute.assigned_solver, Dispute.acknowledged_by)
                                   .where(Dispute.lifecycle_state.in_(OPEN_STATES)
                                          & (Dispute.assigned_solver.in_(keys)
                                             | Dispute.acknowledged_by.in_(keys))).tuples()):
        for key in {assigned, acknowledger} & load.keys():
            load[key] += 1
    last = dict(NotificationTier.select(NotificationTier.suggested_solver,
                                        fn.MAX(NotificationTier.suggested_at))
                .where(NotificationTier.suggested_solver.in_(keys))
                .group_by(NotificationTier.suggested_solver).tuples())
    order = {key: i for i, key in enumerate(keys)}
    return min(keys, key=lambda k: (load[k], last.get(k) or -1, order[k]))


def solvers_of(tier: TierEntry, *, suggested: str | None, assigned: str | None,
               settings: Settings) -> list[SolverEntry]:
    """The solvers a tier names (before quiet hours); none for observers and webhooks."""
    valid = _valid(settings.solvers)
    if tier.audience == ALL:
        return valid
    if tier.audience == WRITE:
        return [s for s in valid if s.permission == "write"]
    if tier.audience == ASSIGNED:
        wanted = assigned or suggested
        return [s for s in valid if s.permission == "write" and s.hex_pubkey == wanted]
    return []


def reach(solvers: Sequence[SolverEntry], now: int) -> Reach:
    awake = tuple(s.hex_pubkey for s in solvers if not quiet.quiet(s, now))
    return Reach(awake=awake, quiet=tuple(s.hex_pubkey for s in solvers
                                          if s.hex_pubkey not in awake))
