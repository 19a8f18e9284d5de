"""Re-notification policy (GAP-9): when the next reminder is due, with a cap and a back-off.

With the defaults (factor 1.0, twelve reminders) the first rounds behave exactly like the
original: one reminder every `renotification_seconds`. Pure functions; the scan that acts on
them lives in `reminders.py`.
"""

from __future__ import annotations

from serbero.config import Timeouts


def interval_s(sent: int, timeouts: Timeouts) -> int:
    """Seconds to wait before reminder number `sent + 1`."""
    return round(timeouts.renotification_seconds * timeouts.renotification_backoff_factor ** sent)


def first_renotify_at(notified_at: int, timeouts: Timeouts) -> int | None:
    """When the first reminder is due after the initial notice landed; None if capped at 0."""
    if timeouts.renotification_max_count <= 0:
        return None
    return notified_at + interval_s(0, timeouts)


def following_renotify_at(now: int, sent: int, timeouts: Timeouts) -> int | None:
    """When the reminder after `sent` reminders is due; None once the cap is reached."""
    if sent >= timeouts.renotification_max_count:
        return None
    return now + interval_s(sent, timeouts)
