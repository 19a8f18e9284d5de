"""The provider chain: `[reasoning]` first, then each `[[reasoning.fallback]]`, skipping those
whose health says they are failing now; a call that fails moves to the next provider. Builds
the prompts, parses the answers and records every call. This is the API mediation calls.

Call it outside any database transaction: a model call takes seconds (SQLite's write lock
must not wait on it), and each call's record commits on its own, whatever the caller does next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from serbero import clock
from serbero.errors import ReasoningError
from serbero.reasoning import calls, health, parse, prompts
from serbero.reasoning.bundle import PromptBundle
from serbero.reasoning.calls import CallScope
from serbero.reasoning.providers import Provider
from serbero.reasoning.spec import ProviderSpec
from serbero.reasoning.types import (
    PURPOSE_CLASSIFY,
    PURPOSE_HEALTH,
    PURPOSE_SUMMARIZE,
    ClassificationRequest,
    ClassificationResponse,
    Completion,
    SummaryRequest,
    SummaryResponse,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A parsed answer, the provider that gave it (provenance of its rationale, RAT-4), what it
    cost, and the providers that failed before it as (label, error category)."""

    value: T
    spec: ProviderSpec
    completion: Completion
    latency_ms: int
    failed_before: tuple[tuple[str, str], ...] = ()


class ProviderChain:
    def __init__(self, providers: list[Provider], *, health_interval_s: int,
                 limits: prompts.TranscriptLimits | None = None,
                 now: Callable[[], int] = clock.now) -> None:
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        self.providers = {p.spec.key: p for p in providers}
        self.specs = [p.spec for p in providers]
        self.health_interval_s = health_interval_s
        self.limits = limits or prompts.TranscriptLimits()
        self.now = now

    def classify(self, request: ClassificationRequest, bundle: PromptBundle, *,
                 scope: CallScope | None = None) -> Answer[ClassificationResponse]:
        """A parsed verdict (RP-14, RP-17) from the first provider that gives one; the last
        provider's ReasoningError when none does."""
        prompt = prompts.classification_prompt(request, bundle, self.limits)
        scope = scope or CallScope(dispute_id=request.dispute_id)
        return self._first(PURPOSE_CLASSIFY, bundle.system, prompt, parse.classification, scope)

    def summarize(self, request: SummaryRequest, bundle: PromptBundle, *,
                  scope: CallScope | None = None) -> Answer[SummaryResponse]:
        """A parsed summary (RP-15, RP-18), or the last provider's ReasoningError. The text is
        not yet guarded: pass it through serbero.mediation.guard before anyone sees it."""
        prompt = prompts.summary_prompt(request, bundle, self.limits)
        scope = scope or CallScope(dispute_id=request.dispute_id)
        return self._first(PURPOSE_SUMMARIZE, bundle.system, prompt, parse.summary, scope)

    def only(self, spec: ProviderSpec) -> ProviderChain:
        """A chain of this one provider (sharing its connection), to try each in turn."""
        return ProviderChain([self.providers[spec.key]], health_interval_s=self.health_interval_s,
                             limits=self.limits, now=self.now)

    def ready(self) -> bool:
        """True when the health state says some provider answers now (no call is made)."""
        return health.ready(self.specs, now=self.now(),
                            max_age=health.max_age_s(self.health_interval_s))

    def all_failing(self) -> bool:
        """True when every provider's fresh health state is a failure: a session would open
        only to escalate, so it waits (a provider never checked, or checked long ago, is worth
        a try: the call itself tells)."""
        views = health.view(self.specs, now=self.now(),
                            max_age=health.max_age_s(self.health_interval_s))
        return all(v.failing for v in views)

    def check(self, spec: ProviderSpec, *, origin: str) -> Completion:
        """One health check (`ping`) of one provider, recorded; ReasoningError on failure."""
        return self._call(self.providers[spec.key], PURPOSE_HEALTH, None, prompts.HEALTH_PROMPT,
                          parser=lambda text: text, scope=CallScope(origin=origin))[1]

    def refresh_health(self) -> list[tuple[ProviderSpec, str]]:
        """The background check: ping each provider that nothing has called for half a
        period; return (provider, outcome) for those pinged."""
        results = []
        for spec in health.due(self.specs, now=self.now(), interval_s=self.health_interval_s):
            try:
                self.check(spec, origin=calls.HEALTH_CHECK)
                results.append((spec, health.OK))
            except ReasoningError as exc:
                results.append((spec, exc.category))
        return results

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()

    def _first(self, purpose: str, system: str, prompt: str, parser: Callable[[str], T],
               scope: CallScope) -> Answer[T]:
        order = health.call_order(self.specs, now=self.now(),
                                  max_age=health.max_age_s(self.health_interval_s))
        failed: list[tuple[str, str]] = []
        last: ReasoningError | None = None
        for spec in order:
            try:
                value, completion, latency_ms = self._call(
                    self.providers[spec.key], purpose, system, prompt, parser=parser, scope=scope)
            except ReasoningError as exc:
                failed.append((spec.label, exc.category))
                last = exc
                continue
            if failed:
                log.info("reasoning_fallback_used", extra={
                    "provider": spec.provider, "model": spec.model, "purpose": purpose,
                    "failed_before": ",".join(f"{label}={cat}" for label, cat in failed)})
            return Answer(value, spec, completion, latency_ms, tuple(failed))
        assert last is not None
        if len(failed) == 1:
            raise last
        raise ReasoningError(last.category, f"all {len(failed)} providers failed ("
                             + ", ".join(f"{label}: {cat}" for label, cat in failed) + f"); "
                             f"last: {last}", detail=last.detail, http_status=last.http_status)

    def _call(self, provider: Provider, purpose: str, system: str | None, prompt: str, *,
              parser: Callable[[str], T], scope: CallScope) -> tuple[T, Completion, int]:
        spec = provider.spec
        started_at, t0 = self.now(), time.monotonic()
        completion: Completion | None = None
        try:
            completion = provider.complete(purpose, system, prompt)
            value = parser(completion.text)
        except ReasoningError as exc:
            calls.record(spec, purpose, scope, started_at=started_at,
                         latency_ms=_ms_since(t0), completion=completion, error=exc)
            raise
        latency_ms = _ms_since(t0)
        calls.record(spec, purpose, scope, started_at=started_at, latency_ms=latency_ms,
                     completion=completion)
        return value, completion, latency_ms


def _ms_since(t0: float) -> int:
    return int((time.monotonic() - t0) * 1000)
