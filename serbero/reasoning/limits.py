"""Names and time budgets the configuration checks before anything runs: the provider names
Serbero knows (RP-1) and how long a chain of providers may take, which must fit the time limit
of a `mediation` job. Imports nothing heavy, since config.py reads it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SHIPPED_PROVIDERS = ("openai", "openai-compatible", "anthropic")
#: Declared by the original and never shipped: they build, and every call fails (RP-1).
DECLARED_PROVIDERS = ("ppqai", "openclaw")

#: The longest Retry-After a call waits for; a provider asking for more fails the attempt now.
RETRY_AFTER_MAX_S = 30.0
#: Longest a job on the `mediation` queue may run (its dramatiq time limit): every provider of
#: the chain failing slowly must still end inside it.
MEDIATION_JOB_LIMIT_S = 600


def provider_budget_s(timeout_s: int, attempts: int) -> float:
    """Worst case of one provider: each attempt may run up to its deadline plus one read
    timeout (a server trickling bytes), and each retry may wait for Retry-After."""
    per_attempt = 2 * max(1, timeout_s)
    return attempts * per_attempt + (attempts - 1) * RETRY_AFTER_MAX_S


def chain_budget_s(entries: Iterable[Any]) -> float:
    """Worst case of a chain: each provider entry (`request_timeout_seconds`,
    `followup_retry_count`) failing slowly, one after the other."""
    return sum(provider_budget_s(e.request_timeout_seconds, e.followup_retry_count + 1)
               for e in entries)


def unknown_provider_message(name: str) -> str:
    return (f"unknown reasoning provider '{name}'; supported: {', '.join(SHIPPED_PROVIDERS)} "
            f"({', '.join(DECLARED_PROVIDERS)} are declared but not yet implemented)")
