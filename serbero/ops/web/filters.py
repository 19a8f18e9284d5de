"""The disputes list's filters as data: each one parses its query parameter (a bad value is a
clear 400, never a 500) and narrows a peewee query; the form's choices come from the same
entry. A new filter is one `Filter` in FILTERS."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peewee import Query

from serbero.config import Settings
from serbero.db.models import Dispute
from serbero.disputes import lifecycle
from serbero.escalation.models import EscalationHandoff
from serbero.mediation.models import MediationSession
from serbero.nostr.keys import parse_public_key, short

#: Longest id prefix searched; a dispute id (a UUID) has 36 characters.
MAX_SEARCH_CHARS = 64
#: The `solver` value for disputes nobody has taken.
UNASSIGNED = "none"
_AGE = re.compile(r"^(lt|gt)([1-9][0-9]{0,3})([mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}
#: The age filter's choices: detected under / over this long ago.
AGE_CHOICES = (("lt1h", "under 1 hour"), ("lt24h", "under 24 hours"), ("lt7d", "under 7 days"),
               ("gt24h", "over 24 hours"), ("gt7d", "over 7 days"), ("gt30d", "over 30 days"))
YES_NO = (("yes", "yes"), ("no", "no"))


class BadFilter(ValueError):
    """Raised when a query parameter's value is not one the filter accepts."""


@dataclass(frozen=True)
class Filter:
    """One filter of the list: its query parameter, its label, how its value is read and how
    it narrows the query (`apply(query, value, now)`), and its choices for the form (None: a
    text field)."""

    name: str
    label: str
    parse: Callable[[str], Any]
    apply: Callable[[Query, Any, int], Query]
    choices: Callable[[Settings], tuple[tuple[str, str], ...]] | None = None


def _state(value: str) -> str:
    if value not in lifecycle.STATES:
        raise BadFilter(f"state: {value[:40]!r} is not a state; use one of "
                        f"{', '.join(lifecycle.STATES)}.")
    return value


def _age(value: str) -> tuple[str, int]:
    match = _AGE.match(value)
    if match is None:
        raise BadFilter(f"age: {value[:40]!r} is not an age; use lt or gt, a number and m, h "
                        "or d (e.g. lt24h: detected under 24 hours ago).")
    way, count, unit = match.groups()
    return way, int(count) * _UNIT_S[unit]


def _apply_age(query: Query, value: tuple[str, int], now: int) -> Query:
    way, seconds = value
    if way == "lt":
        return query.where(Dispute.detected_at >= now - seconds)
    return query.where(Dispute.detected_at < now - seconds)


def solver_key(name: str) -> Callable[[str], str | None]:
    """The parser of a filter naming a solver by key (None for `none`: nobody)."""
    def parse(value: str) -> str | None:
        if value == UNASSIGNED:
            return None
        try:
            return parse_public_key(value)
        except ValueError:
            raise BadFilter(f"{name}: {value[:40]!r} is not a Nostr public key; use 64 hex "
                            f"characters, npub1…, or {UNASSIGNED!r}.") from None
    return parse


def _matches_key(column: Any) -> Callable[[Query, str | None, int], Query]:
    """Disputes whose `column` holds the parsed key (None, from `none`: holds no key)."""
    def apply(query: Query, value: str | None, now: int) -> Query:
        return query.where(column.is_null() if value is None else column == value)
    return apply


def _solver_choices(settings: Settings) -> tuple[tuple[str, str], ...]:
    solvers = [(s.hex_pubkey, f"{short(s.hex_pubkey)} ({s.permission})")
               for s in settings.solvers if s.hex_pubkey]
    return ((UNASSIGNED, "nobody"), *solvers,
            (settings.serbero_pubkey, f"{short(settings.serbero_pubkey)} (Serbero)"))


def yes_no(name: str) -> Callable[[str], bool]:
    def parse(value: str) -> bool:
        if value not in ("yes", "no"):
            raise BadFilter(f"{name}: {value[:40]!r} is neither 'yes' nor 'no'.")
        return value == "yes"
    return parse


def exists_in(model: Any) -> Callable[[Query, bool, int], Query]:
    """Narrow to disputes that have (True) or lack (False) a row in `model`."""
    def apply(query: Query, wanted: bool, now: int) -> Query:
        having = model.select(model.dispute_id)  # NOT NULL in both tables: NOT IN is safe
        return query.where(Dispute.dispute_id.in_(having) if wanted
                           else Dispute.dispute_id.not_in(having))
    return apply


def _search(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_SEARCH_CHARS:
        raise BadFilter(f"q: {len(value)} characters; a dispute id prefix has at most "
                        f"{MAX_SEARCH_CHARS}.")
    return value


def _apply_search(query: Query, prefix: str, now: int) -> Query:
    # startswith: ILIKE with the wildcards escaped, the prefix a bound parameter
    return query.where(Dispute.dispute_id.startswith(prefix)) if prefix else query


FILTERS: tuple[Filter, ...] = (
    Filter("q", "id starts with", _search, _apply_search),
    Filter("state", "state", _state, lambda q, v, now: q.where(Dispute.lifecycle_state == v),
           lambda settings: tuple((s, s) for s in lifecycle.STATES)),
    Filter("age", "detected", _age, _apply_age, lambda settings: AGE_CHOICES),
    Filter("solver", "assigned to", solver_key("solver"), _matches_key(Dispute.assigned_solver),
           _solver_choices),
    Filter("acked", "acknowledged by", solver_key("acked"), _matches_key(Dispute.acknowledged_by),
           _solver_choices),
    Filter("escalated", "escalated", yes_no("escalated"), exists_in(EscalationHandoff),
           lambda settings: YES_NO),
    Filter("mediated", "mediated", yes_no("mediated"), exists_in(MediationSession),
           lambda settings: YES_NO),
)
BY_NAME = {f.name: f for f in FILTERS}


def parse(params: dict[str, str]) -> dict[str, Any]:
    """The filters asked for (an empty value is no filter), parsed; BadFilter on a bad value.
    Parameters that are no filter's are left to the caller."""
    return {name: BY_NAME[name].parse(value) for name, value in params.items()
            if name in BY_NAME and value != ""}


def narrow(query: Query, parsed: dict[str, Any], now: int) -> Query:
    for name, value in parsed.items():
        query = BY_NAME[name].apply(query, value, now)
    return query
