"""Provider selection (RP-1): a provider name from the configuration becomes an adapter.

`openai` and `openai-compatible` are one adapter, `anthropic` the other. `ppqai` and `openclaw`
are names the original declared and never shipped: they build, and every call fails as
`unreachable` saying so, which keeps mediation off; PPQ.ai itself speaks the OpenAI API.
"""

from __future__ import annotations

from typing import Protocol

from serbero.errors import ConfigError, ReasoningError
from serbero.reasoning.anthropic import Anthropic
from serbero.reasoning.limits import DECLARED_PROVIDERS, SHIPPED_PROVIDERS, unknown_provider_message
from serbero.reasoning.openai_compat import OpenAICompatible
from serbero.reasoning.spec import ProviderSpec
from serbero.reasoning.transport import UNREACHABLE, Backoff, JsonPoster
from serbero.reasoning.types import Completion


class Provider(Protocol):
    spec: ProviderSpec

    def complete(self, purpose: str, system: str | None, prompt: str) -> Completion:
        """The model's text for one request, or ReasoningError."""

    def close(self) -> None: ...


class DeclaredOnly:
    """RP-1's `ppqai` / `openclaw`: built, never calls anything, always unreachable."""

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec

    def complete(self, purpose: str, system: str | None, prompt: str) -> Completion:
        raise ReasoningError(UNREACHABLE, (
            f"reasoning provider '{self.spec.provider}' is declared at the Phase 3 boundary but "
            f"not yet implemented; currently shipped providers: {', '.join(SHIPPED_PROVIDERS)}. "
            'PPQ.ai speaks the OpenAI API: use provider = "openai-compatible" with '
            'api_base = "https://api.ppq.ai". A native adapter is future work.'))

    def close(self) -> None:
        return None


def build(spec: ProviderSpec, *, backoff: Backoff | None = None) -> Provider:
    """The adapter for `spec`; ConfigError when the name is unknown or the key is missing."""
    if spec.provider not in SHIPPED_PROVIDERS + DECLARED_PROVIDERS:
        raise ConfigError([unknown_provider_message(spec.provider)])
    if spec.provider in DECLARED_PROVIDERS:
        return DeclaredOnly(spec)
    if spec.api_key is None:
        raise ConfigError([f"reasoning provider {spec.label}: the variable `{spec.api_key_env}` "
                           f"(or `{spec.api_key_env}_FILE`) that api_key_env names is unset or "
                           "empty; export the provider's API key in it."])
    poster = JsonPoster(prefix=spec.provider, timeout_s=spec.timeout_s, attempts=spec.attempts,
                        secrets=(spec.api_key.reveal(),), backoff=backoff)
    if spec.provider == "anthropic":
        return Anthropic(spec, poster)
    return OpenAICompatible(spec, poster)
