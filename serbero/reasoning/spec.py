"""One configured provider, as the adapters need it: built from `[reasoning]` or one of its
`[[reasoning.fallback]]` entries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from serbero.config import ReasoningFallback, ReasoningSection, Secret, redact_url


@dataclass(frozen=True)
class ProviderSpec:
    provider: str
    model: str
    api_base: str
    api_key_env: str
    api_key: Secret | None
    #: RP-3: seconds per HTTP attempt, at least 1.
    timeout_s: float
    #: RP-4: followup_retry_count + 1.
    attempts: int
    usd_per_million_input_tokens: float = 0.0
    usd_per_million_output_tokens: float = 0.0
    #: 0 for `[reasoning]`, then 1, 2… for the fallback entries in order.
    position: int = 0

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def key(self) -> str:
        """Stable id of this provider in the health table (provider, model and endpoint)."""
        ident = f"{self.provider}\0{self.model}\0{self.api_base.rstrip('/')}"
        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    @property
    def endpoint(self) -> str:
        """`api_base` with any credentials in it replaced, safe to print."""
        return redact_url(self.api_base)

    def cost_usd(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return ((input_tokens or 0) * self.usd_per_million_input_tokens
                + (output_tokens or 0) * self.usd_per_million_output_tokens) / 1e6

    @property
    def priced(self) -> bool:
        return bool(self.usd_per_million_input_tokens or self.usd_per_million_output_tokens)


def chain_specs(reasoning: ReasoningSection) -> list[ProviderSpec]:
    """The primary provider, then each fallback, in the configured order."""
    entries: list[ReasoningSection | ReasoningFallback] = [reasoning, *reasoning.fallback]
    return [ProviderSpec(
        provider=e.provider, model=e.model, api_base=e.api_base, api_key_env=e.api_key_env,
        api_key=e.api_key, timeout_s=float(max(1, e.request_timeout_seconds)),
        attempts=e.followup_retry_count + 1,
        usd_per_million_input_tokens=e.usd_per_million_input_tokens,
        usd_per_million_output_tokens=e.usd_per_million_output_tokens, position=i)
        for i, e in enumerate(entries)]
