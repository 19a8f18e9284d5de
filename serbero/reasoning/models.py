"""peewee models over the reasoning tables of migration 5 (never created here)."""

from __future__ import annotations

from peewee import AutoField, BigIntegerField, IntegerField, TextField

from serbero.db.models import BaseModel


class Rationale(BaseModel):
    """The content-addressed rationale text (RAT-1); the only place the text is stored."""

    rationale_id = TextField(primary_key=True)
    session_id = TextField(null=True)
    provider = TextField()
    model = TextField()
    prompt_bundle_id = TextField()
    policy_hash = TextField()
    rationale_text = TextField()
    generated_at = BigIntegerField()

    class Meta:
        table_name = "reasoning_rationales"


class RationaleRef(BaseModel):
    """One use of a rationale, with its own provenance (GAP-17)."""

    id = AutoField()
    rationale_id = TextField()
    scope = TextField()
    session_id = TextField(null=True)
    dispute_id = TextField(null=True)
    provider = TextField()
    model = TextField()
    prompt_bundle_id = TextField()
    policy_hash = TextField()
    generated_at = BigIntegerField()

    class Meta:
        table_name = "reasoning_rationale_refs"


class ReasoningCall(BaseModel):
    """One model call: who answered, how it went, what it cost; never content."""

    id = AutoField()
    purpose = TextField()
    origin = TextField()
    provider = TextField()
    model = TextField()
    position = IntegerField()
    dispute_id = TextField(null=True)
    session_id = TextField(null=True)
    outcome = TextField()
    http_status = IntegerField(null=True)
    attempts = IntegerField()
    latency_ms = IntegerField()
    input_tokens = IntegerField(null=True)
    output_tokens = IntegerField(null=True)
    output_bytes = IntegerField(null=True)
    output_sha16 = TextField(null=True)
    started_at = BigIntegerField()

    class Meta:
        table_name = "reasoning_calls"


class ProviderHealth(BaseModel):
    """A provider's latest health, written after every call and every background check."""

    provider_key = TextField(primary_key=True)
    provider = TextField()
    model = TextField()
    status = TextField()
    checked_at = BigIntegerField()
    latency_ms = IntegerField(null=True)
    consecutive_failures = IntegerField(default=0)
    healthy_at = BigIntegerField(null=True)

    class Meta:
        table_name = "reasoning_health"
