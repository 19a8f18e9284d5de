"""Storage of escalations: the handoff tracking row, the dispatch row, the DM link, the status
codes, and the two writes every step uses (a compare-and-set on the handoff, an audit row).

Statuses are stored codes that never change meaning.
"""

from __future__ import annotations

import json
from typing import Any

from peewee import BigIntegerField, IntegerField, TextField

from serbero.db.models import AuditEvent, BaseModel, audit

#: Waiting for its first dispatch (or for a worker after an error pushed it back).
PENDING = "pending"
#: Its DMs sit in the outbox; the first one published makes it `dispatched`.
SENDING = "sending"
#: At least one solver's relay accepted a DM. Final.
DISPATCHED = "dispatched"
#: No DM reached a relay; re-dispatched at `next_attempt_at` (NULL once given up).
SEND_FAILED = "send_failed"
#: No solver can receive it under the current configuration; parked until one can.
UNROUTABLE = "unroutable"
#: Its dispute is resolved; parked unless the dispute leaves `resolved` (DISP-7).
SUPERSEDED = "superseded"
#: Its payload does not parse, or names no known dispute (DISP-5/6). Final.
PARSE_FAILED = "parse_failed"
STATUSES = (PENDING, SENDING, DISPATCHED, SEND_FAILED, UNROUTABLE, SUPERSEDED, PARSE_FAILED)
#: Handoffs no human has received yet (`serbero escalations list --pending`).
WAITING = (PENDING, SENDING, SEND_FAILED, UNROUTABLE)

#: Outbox purpose of a handoff DM.
DM_PURPOSE = "handoff_dm"
#: notifications.notif_type of a handoff DM (DISP-12).
NOTIF_TYPE = "mediation_escalation_recommended"
#: The trigger of an operator's escalation; dispatched even with the dispatcher disabled.
MANUAL_TRIGGER = "manual"
HANDOFF_PREPARED = "handoff_prepared"
ESCALATION_RECOMMENDED = "escalation_recommended"


class EscalationHandoff(BaseModel):
    """One handoff on its way to a human; keyed by its `handoff_prepared` audit row."""

    handoff_event_id = BigIntegerField(primary_key=True)
    recommended_event_id = BigIntegerField(null=True, unique=True)
    dedup_key = TextField(null=True, unique=True)
    dispute_id = TextField()
    session_id = TextField(null=True)
    trigger = TextField(null=True)
    status = TextField()
    version = IntegerField(default=0)
    route = TextField(null=True)
    recipients = TextField(null=True)
    requested_by = TextField(null=True)
    attempts = IntegerField(default=0)
    next_attempt_at = BigIntegerField(null=True)
    retry_token = TextField(null=True)
    unroutable_at = BigIntegerField(null=True)
    superseded_at = BigIntegerField(null=True)
    delivered_at = BigIntegerField(null=True)
    created_at = BigIntegerField()
    updated_at = BigIntegerField()

    class Meta:
        table_name = "escalation_handoffs"

    @property
    def recipient_list(self) -> list[str]:
        return json.loads(self.recipients) if self.recipients else []


class EscalationDispatch(BaseModel):
    """The original's dispatch record (DISP-12): one per handoff, updated by a re-dispatch."""

    dispatch_id = TextField(primary_key=True)
    dispute_id = TextField()
    session_id = TextField(null=True)
    handoff_event_id = BigIntegerField(unique=True)
    target_solver = TextField()
    dispatched_at = BigIntegerField()
    created_at = BigIntegerField()
    status = TextField(default=DISPATCHED)
    fallback_broadcast = IntegerField(default=0)
    attempt = IntegerField(default=1)

    class Meta:
        table_name = "escalation_dispatches"


class EscalationDm(BaseModel):
    """Which handoff, and which attempt of it, an outbox row carries."""

    outbox_id = BigIntegerField(primary_key=True)
    handoff_event_id = BigIntegerField()
    attempt = IntegerField()

    class Meta:
        table_name = "escalation_dms"


def compact(doc: dict[str, Any] | list[Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def record(kind: str, *, dispute_id: str | None, at: int, source: AuditEvent | None = None,
           session_id: str | None = None, **payload: Any) -> AuditEvent:
    """An audit row; Phase 4 rows copy the session and bundle columns of their handoff row."""
    if source is not None:
        session_id = source.session_id
    return audit(kind, dispute_id=dispute_id, at=at, session_id=session_id,
                 prompt_bundle_id=source.prompt_bundle_id if source else None,
                 policy_hash=source.policy_hash if source else None, **payload)


def claim(handoff: EscalationHandoff, *, at: int, token: str | None = None,
          **columns: Any) -> bool:
    """Compare-and-set: apply `columns` only if nobody changed the handoff since it was read
    (and, for a delayed job, only if its token is still the current one)."""
    where = ((EscalationHandoff.handoff_event_id == handoff.handoff_event_id)
             & (EscalationHandoff.version == handoff.version))
    if token is not None:
        where &= EscalationHandoff.retry_token == token
    won = (EscalationHandoff.update(version=EscalationHandoff.version + 1, updated_at=at,
                                    **columns).where(where).execute()) == 1
    if won:
        handoff.version += 1
        for name, value in columns.items():
            setattr(handoff, name, value)
    return won


def lock(handoff_id: int, at: int) -> EscalationHandoff | None:
    """Re-read a handoff after taking its row lock (a no-op UPDATE), so that concurrent outcome
    hooks of its DMs run one after the other on PostgreSQL as they do on SQLite."""
    (EscalationHandoff.update(updated_at=at)
     .where(EscalationHandoff.handoff_event_id == handoff_id).execute())
    return EscalationHandoff.get_or_none(EscalationHandoff.handoff_event_id == handoff_id)
