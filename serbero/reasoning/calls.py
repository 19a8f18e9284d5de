"""The record of every model call: one `reasoning_calls` row and the provider's health, written
together in their own transaction (a call happened whatever its caller does next), and one log
line with ids and figures only: never the prompt, never the output (RP-5)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from peewee import PeeweeException

from serbero.db.connection import database
from serbero.errors import ReasoningError
from serbero.reasoning import health
from serbero.reasoning.models import ReasoningCall
from serbero.reasoning.spec import ProviderSpec
from serbero.reasoning.types import Completion

log = logging.getLogger(__name__)

#: Who asked for a call, kept on its row.
MEDIATION, HEALTH_CHECK, CHECK, EVAL = "mediation", "health", "check", "eval"


@dataclass(frozen=True)
class CallScope:
    """Where a call belongs: its origin and, for mediation, the dispute and session."""

    origin: str = MEDIATION
    dispute_id: str | None = None
    session_id: str | None = None


def record(spec: ProviderSpec, purpose: str, scope: CallScope, *, started_at: int,
           latency_ms: int, completion: Completion | None = None,
           error: ReasoningError | None = None) -> None:
    """Write the call row and the health state; a database failure here is logged and
    swallowed, since losing one accounting row must not fail the classification."""
    outcome = error.category if error is not None else health.OK
    c = completion
    attempts = c.attempts if c else (error.attempts or 0 if error else 0)
    try:
        with database.atomic():
            ReasoningCall.create(
                purpose=purpose, origin=scope.origin, provider=spec.provider, model=spec.model,
                position=spec.position, dispute_id=scope.dispute_id, session_id=scope.session_id,
                outcome=outcome,
                http_status=(error.http_status if error and error.http_status
                             else (c.http_status if c else None)),
                attempts=attempts, latency_ms=latency_ms,
                input_tokens=c.input_tokens if c else None,
                output_tokens=c.output_tokens if c else None,
                output_bytes=c.size if c else None, output_sha16=c.fingerprint if c else None,
                started_at=started_at)
            health.record(spec, outcome, at=started_at, latency_ms=latency_ms)
    except PeeweeException:
        log.warning("reasoning_call_unrecorded", exc_info=True,
                    extra={"provider": spec.provider, "model": spec.model, "purpose": purpose})
    fields = {"provider": spec.provider, "model": spec.model, "purpose": purpose,
              "origin": scope.origin, "outcome": outcome, "latency_ms": latency_ms,
              "dispute_id": scope.dispute_id, "session_id": scope.session_id}
    if c is not None:
        fields |= {"attempts": c.attempts, "input_tokens": c.input_tokens,
                   "output_tokens": c.output_tokens, "output_bytes": c.size,
                   "output_sha16": c.fingerprint}
    fields = {k: v for k, v in fields.items() if v is not None}
    if error is None:
        log.info("reasoning_call", extra=fields)
        return
    log.warning("reasoning_call_failed", extra=fields | {"error_category": error.category,
                                                         "http_status": error.http_status,
                                                         "error": str(error)})
    if error.detail:
        log.debug("reasoning_call_failed_detail", extra={"provider": spec.provider,
                                                         "detail": error.detail})
