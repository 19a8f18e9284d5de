"""Quiet hours of a solver: a daily window in the solver's time zone (`{tz = "Europe/Madrid",
from = "22:00", to = "07:00"}`) during which tiers skip them. A window whose `from` is later
than its `to` crosses midnight; `from` equal to `to` covers the whole day. Pure: no I/O
beyond the system's time-zone database."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KEYS = ("tz", "from", "to")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True)
class QuietHours:
    zone: ZoneInfo
    #: Minutes after local midnight.
    start: int
    end: int

    @property
    def whole_day(self) -> bool:
        return self.start == self.end

    def covers(self, at: int) -> bool:
        """Whether Unix second `at` falls inside the window, in the solver's zone."""
        local = datetime.fromtimestamp(at, UTC).astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        if self.whole_day:
            return True
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


def _minutes(value: Any, key: str) -> int:
    if not isinstance(value, str) or not (found := _HHMM.fullmatch(value)):
        raise ValueError(f'`{key}` must be a time as "HH:MM" (24-hour), e.g. "22:00"')
    return int(found.group(1)) * 60 + int(found.group(2))


def parse(raw: Mapping[str, Any]) -> QuietHours:
    """A quiet-hours table as a window; ValueError says what is wrong."""
    unknown = [k for k in raw if k not in KEYS]
    if unknown:
        raise ValueError(f"unknown key `{str(unknown[0])[:32]}` (known keys: tz, from, to)")
    missing = [k for k in KEYS if k not in raw]
    if missing:
        raise ValueError(f"missing `{missing[0]}`; write it as "
                         '{tz = "Europe/Madrid", from = "22:00", to = "07:00"}')
    return _parsed(str(raw["tz"])[:64] if isinstance(raw["tz"], str) else None,
                   _minutes(raw["from"], "from"), _minutes(raw["to"], "to"))


@lru_cache(maxsize=256)
def _parsed(tz: str | None, start: int, end: int) -> QuietHours:
    if not tz:
        raise ValueError("`tz` must be a time-zone name such as \"Europe/Madrid\"")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"`tz`: `{tz}` is not a time zone this system knows "
                         '(an IANA name such as "Europe/Madrid" or "UTC")') from None
    return QuietHours(zone, start, end)


def of(solver: Any) -> QuietHours | None:
    """A solver's window, or None when it has none (configuration checked it parses)."""
    raw = getattr(solver, "quiet_hours", None)
    return parse(raw) if raw else None


def quiet(solver: Any, at: int) -> bool:
    window = of(solver)
    return window is not None and window.covers(at)
