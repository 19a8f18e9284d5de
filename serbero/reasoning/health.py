"""Provider health shared by every process (GAP-15): written after each call and each
background check, read before a session opens, so opening costs no billable request.

A state is fresh for `max_age_s` (three background periods): a provider whose fresh state is a
failure is tried only when no other provider is healthy or unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from serbero.reasoning.models import ProviderHealth
from serbero.reasoning.spec import ProviderSpec

OK = "ok"
#: A state this many background periods old no longer says anything.
FRESH_PERIODS = 3


@dataclass(frozen=True)
class HealthView:
    spec: ProviderSpec
    status: str | None  # None: never checked
    checked_at: int | None
    fresh: bool

    @property
    def healthy(self) -> bool:
        return self.fresh and self.status == OK

    @property
    def failing(self) -> bool:
        return self.fresh and self.status not in (None, OK)


def max_age_s(interval_s: int) -> int:
    return FRESH_PERIODS * interval_s


def record(spec: ProviderSpec, outcome: str, *, at: int, latency_ms: int) -> None:
    """Upsert the provider's state after a call or a check (inside the caller's transaction)."""
    ok = outcome == OK
    h = ProviderHealth
    update = {h.status: outcome, h.checked_at: at, h.latency_ms: latency_ms,
              h.consecutive_failures: 0 if ok else h.consecutive_failures + 1}
    if ok:
        update[h.healthy_at] = at
    (h.insert(provider_key=spec.key, provider=spec.provider, model=spec.model, status=outcome,
              checked_at=at, latency_ms=latency_ms, consecutive_failures=0 if ok else 1,
              healthy_at=at if ok else None)
     .on_conflict(conflict_target=[h.provider_key], update=update)
     .execute())


def view(specs: list[ProviderSpec], *, now: int, max_age: int) -> list[HealthView]:
    """Each provider's state, in configured order."""
    rows = {r.provider_key: r for r in
            ProviderHealth.select().where(ProviderHealth.provider_key.in_([s.key for s in specs]))}
    views = []
    for spec in specs:
        row = rows.get(spec.key)
        if row is None:
            views.append(HealthView(spec, None, None, fresh=False))
        else:
            views.append(HealthView(spec, row.status, row.checked_at,
                                    fresh=now - row.checked_at <= max_age))
    return views


def ready(specs: list[ProviderSpec], *, now: int, max_age: int) -> bool:
    """True when some provider answered its latest call or check, recently enough: what a
    session reads before it opens (instead of a billable check per open)."""
    return any(v.healthy for v in view(specs, now=now, max_age=max_age))


def call_order(specs: list[ProviderSpec], *, now: int, max_age: int) -> list[ProviderSpec]:
    """Providers to try, in configured order, skipping those failing now; all of them when
    every one is failing (a call may still get through)."""
    views = view(specs, now=now, max_age=max_age)
    usable = [v.spec for v in views if not v.failing]
    return usable or [v.spec for v in views]


def due(specs: list[ProviderSpec], *, now: int, interval_s: int) -> list[ProviderSpec]:
    """Providers without a call or check in the last half period: the background check pings
    only those, so a busy provider is never pinged."""
    return [v.spec for v in view(specs, now=now, max_age=max_age_s(interval_s))
            if v.checked_at is None or now - v.checked_at >= interval_s / 2]
