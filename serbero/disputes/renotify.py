"""Re-notification policy (GAP-9): when the next reminder is due, with a cap and a back-off.

With the defaults (factor 1.0, twelve reminders) the first rounds behave exactly like the
original: one reminder every `renotification_seconds`. Two things change that (issue 9): a
dispute a solver acknowledged reminds that solver alone, every
`[notifications].ack_reminder_seconds`, until it is taken (no cap: someone said they are on
it); and with `[[notifications.tiers]]` the tiers send the reminders of a dispute nobody
acknowledged, so this schedule stays off for it (`after_initial`, `after_round`). Pure
functions; the scan that acts on them lives in `reminders.py`.
"""

from __future__ import annotations

from serbero.config import Settings, Timeouts


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


def reminder_interval_s(sent: int, settings: Settings, *, acknowledged: bool) -> int:
    """Seconds before the next reminder round: the acknowledger's slower schedule, or GAP-9's."""
    if acknowledged:
        return settings.notifications.ack_reminder_seconds
    return interval_s(sent, settings.timeouts)


def after_initial(notified_at: int, settings: Settings, *, acknowledged: bool) -> int | None:
    """The first reminder after the initial notice landed, all things considered."""
    if acknowledged:
        return notified_at + settings.notifications.ack_reminder_seconds
    if settings.notifications.tiers:
        return None
    return first_renotify_at(notified_at, settings.timeouts)


def after_round(now: int, sent: int, settings: Settings, *, acknowledged: bool) -> int | None:
    """The reminder after `sent` rounds counted, all things considered."""
    if acknowledged:
        return now + settings.notifications.ack_reminder_seconds
    if settings.notifications.tiers:
        return None
    return following_renotify_at(now, sent, settings.timeouts)
