"""What each purpose of an outbox row does around its sending: whether it is still wanted, and
what its delivery, failure or cancellation changes. The registry names each purpose's module,
imported on first use, so the generic outbox imports no domain: a new purpose costs one
module and one line in `MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from serbero.config import Settings
from serbero.db.models import Outbox
from serbero.followup import NOTIFY, FollowUp

Rows = Sequence[Outbox]

#: Purpose → "module:attribute" of its `Purpose`.
MODULES: dict[str, str] = {
    "solver_dm": "serbero.disputes.notify:PURPOSE",
    "handoff_dm": "serbero.escalation.delivery:PURPOSE",
    "mostro_take": "serbero.mostro.take:PURPOSE",
    "observer_notice": "serbero.messages.copies:OBSERVER_NOTICE",
    "webhook_notice": "serbero.messages.copies:WEBHOOK_NOTICE",
    "mediation_chat": "serbero.mediation.delivery:CHAT",
    "mediation_dm": "serbero.mediation.delivery:DMS",
}


def _all_wanted(rows: Rows) -> dict[int, str]:
    return {}


def _nothing_sent(rows: Rows, now: int, settings: Settings) -> FollowUp | None:
    return None


def _nothing(row: Outbox, reason: str, now: int) -> FollowUp | None:
    return None


@dataclass(frozen=True)
class Purpose:
    """The hooks of one purpose. The first two take every row of a batch at once, so that a
    purpose can answer with one query instead of one per row; each hook runs inside the
    transaction that records the outcome and may return follow-up work (a re-dispatch)."""

    name: str
    #: The lane (queue) that publishes its rows.
    lane: str = NOTIFY
    #: Rows no longer worth sending, by id, with the reason; the others are sent.
    unwanted: Callable[[Rows], dict[int, str]] = _all_wanted
    #: Rows a channel accepted (each recorded `sent` by this caller, exactly once).
    on_sent: Callable[[Rows, int, Settings], FollowUp | None] = _nothing_sent
    on_failed: Callable[[Outbox, str, int], FollowUp | None] = _nothing
    on_cancelled: Callable[[Outbox, str, int], FollowUp | None] = _nothing
    #: A failed row an operator put back in play (`outbox.requeue`); None: its rows cannot be
    #: requeued (a take request or a handoff attempt has its own retries and deadlines).
    on_requeued: Callable[[Outbox, int], None] | None = None


def nothing_to_undo(row: Outbox, now: int) -> None:
    """An `on_requeued` hook for rows whose failure left nothing to undo."""


def per_row(still_wanted: Callable[[Outbox], str | None]) -> Callable[[Rows], dict[int, str]]:
    """An `unwanted` hook from a check written for one row at a time."""
    def unwanted(rows: Rows) -> dict[int, str]:
        return {row.id: reason for row in rows if (reason := still_wanted(row))}
    return unwanted


def each(on_sent: Callable[[Outbox, int, Settings], None]
         ) -> Callable[[Rows, int, Settings], FollowUp | None]:
    """An `on_sent` hook from one written for one row at a time."""
    def sent(rows: Rows, now: int, settings: Settings) -> FollowUp | None:
        for row in rows:
            on_sent(row, now, settings)
        return None
    return sent


_loaded: dict[str, Purpose] = {}


def get(name: str) -> Purpose:
    """The purpose called `name`; an unknown one is a programming error (KeyError)."""
    found = _loaded.get(name)
    if found is None:
        module, attribute = MODULES[name].split(":")
        found = _loaded[name] = getattr(importlib.import_module(module), attribute)
    return found


def known(name: str) -> bool:
    """Whether this version knows the purpose of a stored row (a newer version, during a rolling
    upgrade, may write rows of a purpose this one has not heard of)."""
    return name in MODULES
