"""The `[[notifications.tiers]]` table and the checks of tiers and quiet hours, as
`serbero.config` builds them: every problem is reported at once, naming the key and the fix.
Reads no file and no environment (config.py does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from serbero.tiers import quiet

ASSIGNED, WRITE, ALL, OBSERVERS, WEBHOOKS = "assigned", "write", "all", "observers", "webhooks"
AUDIENCES = (ASSIGNED, WRITE, ALL, OBSERVERS, WEBHOOKS)
#: Audiences made of solvers (a dispute's first tier must be one: someone must be able to ack).
SOLVER_AUDIENCES = (ASSIGNED, WRITE, ALL)


def _audience(value: str) -> str | None:
    if value in AUDIENCES:
        return None
    return f'must be one of {", ".join(AUDIENCES)}, not "{value[:40]}"'


@dataclass(frozen=True)
class TierEntry:
    """One tier: who hears (`audience`), how long the dispute stays in this tier without an
    acknowledgement before the next tier (`wait_seconds`), how many notices this tier sends in
    all (`repeat`, the first included) and how far apart (`remind_every_seconds`; 0 spreads
    them evenly over the wait)."""

    audience: str = field(default="", metadata={"check": _audience})
    wait_seconds: int = 0
    repeat: int = 1
    remind_every_seconds: int = 0

    def spacing_s(self) -> int:
        return self.remind_every_seconds or max(1, self.wait_seconds // max(1, self.repeat))


def check(tiers: Sequence[TierEntry], solvers: Sequence[Any], *, observers: Sequence[Any],
          webhooks: Sequence[Any], problems: list[str], warnings: list[str]) -> None:
    """Report every problem of the tiers and of the solvers' quiet hours."""
    windows = _quiet_hours(solvers, problems)
    for i, tier in enumerate(tiers):
        where = f"[[notifications.tiers]] #{i + 1}"
        if not tier.audience and not any(p.startswith(f"{where}.audience:") for p in problems):
            problems.append(f'{where}.audience: missing; choose one of {", ".join(AUDIENCES)}.')
        if tier.wait_seconds <= 0:
            problems.append(f"{where}.wait_seconds: must be more than 0 (got "
                            f"{tier.wait_seconds}): how long this tier waits for an "
                            "acknowledgement before the next one.")
        if tier.repeat < 1:
            problems.append(f"{where}.repeat: must be at least 1 (got {tier.repeat}): the "
                            "notices this tier sends, the first included.")
        if tier.remind_every_seconds < 0:
            problems.append(f"{where}.remind_every_seconds: must not be negative (got "
                            f"{tier.remind_every_seconds}); 0 spreads the reminders evenly.")
        elif (tier.repeat > 1 and tier.wait_seconds > 0
              and (tier.repeat - 1) * tier.spacing_s() >= tier.wait_seconds):
            problems.append(f"{where}: {tier.repeat} notices {tier.spacing_s()}s apart do not "
                            f"fit in wait_seconds = {tier.wait_seconds}; lower repeat or "
                            "remind_every_seconds, or wait longer.")
        if tier.audience in (ASSIGNED, WRITE) and not any(
                s.permission == "write" and s.hex_pubkey for s in solvers):
            problems.append(f"{where}.audience: `{tier.audience}` needs a write solver with a "
                            "valid pubkey; add one, or use audience = \"all\".")
        if tier.audience == OBSERVERS and not observers:
            problems.append(f"{where}.audience: `observers`, but no [[observers]] is configured.")
        if tier.audience == WEBHOOKS and not webhooks:
            problems.append(f"{where}.audience: `webhooks`, but no [[webhooks]] is configured.")
    if tiers and tiers[0].audience not in (*SOLVER_AUDIENCES, ""):
        problems.append("[[notifications.tiers]] #1.audience: the first tier must reach solvers "
                        '("assigned", "write" or "all"), who can acknowledge the dispute.')
    reachable = [s for s in solvers if s.hex_pubkey]
    if reachable and all((w := windows.get(id(s))) is not None and w.whole_day
                         for s in reachable):
        problems.append("[[solvers]].quiet_hours: every solver is quiet the whole day (from = "
                        "to), so no one could ever be reached; someone must always be "
                        "reachable. Shorten at least one solver's window.")
    if windows and not tiers:
        warnings.append("[[solvers]].quiet_hours: only [[notifications.tiers]] read quiet hours; "
                        "without tiers every solver hears about every dispute.")


def _quiet_hours(solvers: Sequence[Any], problems: list[str]) -> dict[int, quiet.QuietHours]:
    windows = {}
    for i, solver in enumerate(solvers):
        if not solver.quiet_hours:
            continue
        try:
            windows[id(solver)] = quiet.parse(solver.quiet_hours)
        except ValueError as exc:
            problems.append(f"[[solvers]] #{i + 1}.quiet_hours: {exc}.")
    return windows
