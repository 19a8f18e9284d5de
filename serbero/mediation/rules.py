"""What a session takes from the configuration when it starts, and how long its jobs may hold a
timer. A session pins its rules (STYLE habit 8): a configuration change applies to new
sessions, never to running ones.
"""

from __future__ import annotations

from typing import Any

from serbero.config import Settings
from serbero.reasoning.bundle import PromptBundle
from serbero.reasoning.limits import chain_budget_s

#: Beyond the provider chain's worst case, what a model-calling job needs for its database
#: writes before its timer may be fired again by the tick.
LEASE_MARGIN_S = 30
#: How long a job that calls no model holds its timer.
SHORT_LEASE_S = 60


def pinned(settings: Settings, bundle: PromptBundle) -> dict[str, Any]:
    """The columns a new session pins."""
    m = settings.mediation
    return {"prompt_bundle_id": bundle.bundle_id, "policy_hash": bundle.policy_hash,
            "max_rounds": m.max_rounds, "quiet_period_s": m.quiet_period_seconds,
            "reply_timeout_s": m.party_response_timeout_seconds,
            "reminder_after_s": m.reminder_after_seconds,
            "default_language": m.default_language}


def model_lease_s(settings: Settings) -> int:
    """How long a job that calls the model holds its timer: the configured chain's worst case
    (every provider failing slowly) and a margin. A worker that dies mid-call loses its job;
    the tick fires the timer again once this has passed."""
    r = settings.reasoning
    return int(chain_budget_s([r, *r.fallback])) + LEASE_MARGIN_S
