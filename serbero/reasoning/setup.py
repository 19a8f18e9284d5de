"""Bring-up of the reasoning layer in a process (MED-1, MED-2 without the billable check): the
prompt bundle read once, the provider chain built once, kept for the process's lifetime.

When mediation is on and something is missing (a bundle file, a provider), mediation is off for
this process, said in one error line naming the key and the path; everything else — detection,
notices, escalation — keeps running. Provider health is not checked here: the background job
keeps it fresh (GAP-15), so a provider down at start-up is not fatal for the whole run.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from serbero.config import Settings
from serbero.errors import ConfigError
from serbero.reasoning import bundle as bundle_files
from serbero.reasoning import providers
from serbero.reasoning.bundle import PromptBundle, PromptBundleError
from serbero.reasoning.chain import ProviderChain
from serbero.reasoning.prompts import TranscriptLimits
from serbero.reasoning.spec import chain_specs
from serbero.reasoning.transport import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reasoning:
    """What mediation needs from this layer: the bundle it pins and the chain it calls."""

    bundle: PromptBundle
    chain: ProviderChain


def build_chain(settings: Settings, *, backoff: Backoff | None = None) -> ProviderChain:
    """The configured providers, in order; ConfigError when one cannot be built."""
    r = settings.reasoning
    return ProviderChain([providers.build(spec, backoff=backoff) for spec in chain_specs(r)],
                         health_interval_s=r.health_check_interval_seconds,
                         limits=TranscriptLimits(r.transcript_max_message_chars,
                                                 r.transcript_max_chars))


def bring_up(settings: Settings, *, backoff: Backoff | None = None) -> Reasoning | None:
    """The reasoning layer for mediation, or None (logged once) when mediation cannot run."""
    if not settings.mediation.enabled:
        log.debug("mediation_disabled")
        return None
    if not settings.reasoning.enabled:
        log.info("mediation_skipped: [mediation].enabled but [reasoning].enabled = false")
        return None
    try:
        loaded = bundle_files.load(settings.prompts)
        chain = build_chain(settings, backoff=backoff)
    except PromptBundleError as exc:
        log.error("mediation_off: prompt bundle unreadable",
                  extra={"key": f"[prompts].{exc.key}", "path": exc.path, "error": str(exc)})
        return None
    except ConfigError as exc:
        log.error("mediation_off: reasoning provider unusable", extra={"error": str(exc)})
        return None
    log.info("prompt_bundle_loaded", extra={"prompt_bundle_id": loaded.bundle_id,
                                            "policy_hash": loaded.policy_hash})
    log.info("reasoning_chain_ready", extra={"providers": ",".join(s.label for s in chain.specs)})
    return Reasoning(loaded, chain)


_current: dict[Settings, Reasoning | None] = {}
_lock = threading.Lock()


def current(settings: Settings) -> Reasoning | None:
    """This process's reasoning layer for `settings`, brought up on first use."""
    with _lock:
        if settings not in _current:
            _current[settings] = bring_up(settings)
        return _current[settings]


def forget() -> None:
    """Drop the cached layer (closing its connections), e.g. when a test swaps the runtime."""
    with _lock:
        for reasoning in _current.values():
            if reasoning is not None:
                reasoning.chain.close()
        _current.clear()
