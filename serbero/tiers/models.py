"""Storage of a dispute's progress along the tiers (migration v0009 documents the columns)."""

from __future__ import annotations

from peewee import BigIntegerField, IntegerField, TextField

from serbero.db.models import BaseModel


class NotificationTier(BaseModel):
    dispute_id = TextField(primary_key=True)
    tier_index = IntegerField()
    tier_entered_at = BigIntegerField()
    sent_in_tier = IntegerField(default=0)
    step_token = TextField(null=True)
    next_step_at = BigIntegerField(null=True)
    suggested_solver = TextField(null=True)
    suggested_at = BigIntegerField(null=True)
    stopped_reason = TextField(null=True)
    started_at = BigIntegerField()
    updated_at = BigIntegerField()

    class Meta:
        table_name = "notification_tiers"
