"""peewee models over the migrated schema. Models never create tables: migrations do.

Stored codes (states, statuses, kinds, outcomes) are strings that never change meaning.
"""

from __future__ import annotations

import json
from typing import Any

from peewee import (
    AutoField,
    BigIntegerField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from serbero.db.connection import database


class BaseModel(Model):
    class Meta:
        database = database


class Dispute(BaseModel):
    """One Mostro dispute, keyed by its `d` tag, with its lifecycle and notification schedule."""

    dispute_id = TextField(primary_key=True)
    event_id = TextField(unique=True)
    mostro_pubkey = TextField()
    initiator_role = TextField()
    dispute_status = TextField(default="initiated")
    event_timestamp = BigIntegerField()
    opened_at = BigIntegerField(null=True)
    detected_at = BigIntegerField()
    detected_at_ms = BigIntegerField(null=True)
    lifecycle_state = TextField(default="new")
    assigned_solver = TextField(null=True)
    last_notified_at = BigIntegerField(null=True)
    last_state_change = BigIntegerField(null=True)
    status_event_id = TextField()
    status_event_at = BigIntegerField()
    status_stage = IntegerField()
    renotify_count = IntegerField(default=0)
    next_renotify_at = BigIntegerField(null=True)
    notify_rounds = IntegerField(default=0)
    next_notify_at = BigIntegerField(null=True)
    #: The first solver to acknowledge it (hex) and when (issue 9); set once.
    acknowledged_by = TextField(null=True)
    acknowledged_at = BigIntegerField(null=True)

    class Meta:
        table_name = "disputes"


class Outbox(BaseModel):
    """Something to send through a channel, waiting or the record of its sending.

    It is made once (a Nostr event signed once, a webhook body and its idempotency key); every
    retry sends the same bytes, so relays and receivers deduplicate it by `message_id`.
    """

    id = AutoField()
    #: Which channel sends it (`serbero.outbox.channels`): nostr, webhook.
    channel = TextField(default="nostr")
    #: Whose hooks follow the outcome (`serbero.outbox.purposes`): solver_dm, handoff_dm, …
    purpose = TextField()
    #: What the notice says, as its purpose reads it (a solver notice's notif_type).
    notice_type = TextField(null=True)
    dispute = ForeignKeyField(Dispute, column_name="dispute_id", null=True, backref="outbox")
    #: A hex pubkey (nostr) or a webhook's name.
    recipient = TextField()
    message_id = TextField(unique=True)
    body = TextField()
    status = TextField(default="pending")
    attempts = IntegerField(default=0)
    last_error = TextField(null=True)
    created_at = BigIntegerField()
    next_attempt_at = BigIntegerField()
    sent_at = BigIntegerField(null=True)
    created_at_ms = BigIntegerField(null=True)
    sent_at_ms = BigIntegerField(null=True)
    #: JSON list of the relays (or the webhook) that accepted it.
    accepted_by = TextField(null=True)
    #: When an operator last put the failed row back in play (`outbox.requeue`); the give-up
    #: window counts from it instead of `created_at` (v0007).
    requeued_at = BigIntegerField(null=True)

    class Meta:
        table_name = "outbox"


class Notification(BaseModel):
    """One notice to one solver about one dispute: the audit row of NOTIF-3, linked to the
    outbox row that carries it (none when the solver's pubkey does not parse)."""

    id = AutoField()
    dispute = ForeignKeyField(Dispute, column_name="dispute_id", backref="notifications")
    solver_pubkey = TextField()
    sent_at = BigIntegerField(null=True)
    status = TextField()
    error_message = TextField(null=True)
    notif_type = TextField(default="initial")
    outbox = ForeignKeyField(Outbox, column_name="outbox_id", null=True, backref="notifications")
    created_at = BigIntegerField()

    class Meta:
        table_name = "notifications"


class Transition(BaseModel):
    """Audit row for every lifecycle change of a dispute."""

    id = AutoField()
    dispute = ForeignKeyField(Dispute, column_name="dispute_id", backref="transitions")
    from_state = TextField(null=True)
    to_state = TextField()
    transitioned_at = BigIntegerField()
    trigger = TextField(null=True)

    class Meta:
        table_name = "dispute_state_transitions"


class ProcessedInput(BaseModel):
    """The inbox: one row per input (Nostr event id) already applied, with its outcome."""

    key = TextField(primary_key=True)
    kind = TextField()
    outcome = TextField()
    processed_at = BigIntegerField()

    class Meta:
        table_name = "processed_inputs"


class ListenerCursor(BaseModel):
    """Where a subscription resumes after a restart (`since`, Unix seconds)."""

    name = TextField(primary_key=True)
    since = BigIntegerField()
    updated_at = BigIntegerField()

    class Meta:
        table_name = "listener_cursors"


class AuditEvent(BaseModel):
    """An audit row: why something happened or did not. The table keeps the original's name,
    `mediation_events`; dispute-scoped rows have no session and carry `dispute_id`."""

    id = AutoField()
    session_id = TextField(null=True)
    dispute_id = TextField(null=True)
    kind = TextField()
    payload_json = TextField(default="{}")
    rationale_id = TextField(null=True)
    prompt_bundle_id = TextField(null=True)
    policy_hash = TextField(null=True)
    occurred_at = BigIntegerField()

    class Meta:
        table_name = "mediation_events"

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_json)


def audit(kind: str, *, dispute_id: str | None, at: int, session_id: str | None = None,
          prompt_bundle_id: str | None = None, policy_hash: str | None = None,
          rationale_id: str | None = None, **payload: Any) -> AuditEvent:
    """Write one audit row; the payload repeats the dispute id as the original's recipes expect
    (and a rationale id, when the row cites one, EVT-7)."""
    if dispute_id is not None:
        payload = {"dispute_id": dispute_id, **payload}
    if rationale_id is not None:
        payload["rationale_id"] = rationale_id
    return AuditEvent.create(
        kind=kind,
        dispute_id=dispute_id,
        session_id=session_id,
        payload_json=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        rationale_id=rationale_id,
        prompt_bundle_id=prompt_bundle_id,
        policy_hash=policy_hash,
        occurred_at=at,
    )
