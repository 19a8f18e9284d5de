"""peewee models of the Mostro layer's tables (migration v0002); like every model, they never
create tables."""

from __future__ import annotations

from peewee import AutoField, BigIntegerField, IntegerField, TextField

from serbero.db.models import BaseModel


class TakeRequest(BaseModel):
    """One `admin-take-dispute` sent (or about to be) and what came of it."""

    id = AutoField()
    request_id = BigIntegerField(unique=True)
    dispute_id = TextField()
    status = TextField()
    transport = TextField()
    pow_bits = IntegerField()
    event_id = TextField()
    outbox_id = BigIntegerField(null=True)
    created_at = BigIntegerField()
    deadline_at = BigIntegerField()
    sent_at = BigIntegerField(null=True)
    resolved_at = BigIntegerField(null=True)
    reason = TextField(null=True)
    reply_event_id = TextField(null=True)
    order_id = TextField(null=True)
    buyer_pubkey = TextField(null=True)
    seller_pubkey = TextField(null=True)
    closed_status = TextField(null=True)

    class Meta:
        table_name = "mostro_take_requests"


class NodeInfoRow(BaseModel):
    """The newest kind-38385 info event seen from a Mostro node."""

    node_pubkey = TextField(primary_key=True)
    event_id = TextField()
    created_at = BigIntegerField()
    protocol_version = IntegerField(null=True)
    pow = IntegerField(null=True)
    pow_first_contact = IntegerField(null=True)
    mostro_version = TextField(null=True)
    serbero_tag = TextField(null=True)
    recorded_at = BigIntegerField()

    class Meta:
        table_name = "mostro_node_info"


class ChatSeen(BaseModel):
    """A chat message already accepted: its inner id is never ingested again."""

    inner_id = TextField(primary_key=True)
    conversation = TextField()
    outer_id = TextField()
    sender = TextField()
    inner_created_at = BigIntegerField()
    content_kind = TextField()
    accepted_at = BigIntegerField()

    class Meta:
        table_name = "mostro_chat_seen"


class ChatCursor(BaseModel):
    """Where a conversation's subscription resumes (`since`, Unix seconds)."""

    conversation = TextField(primary_key=True)
    since = BigIntegerField()
    updated_at = BigIntegerField()

    class Meta:
        table_name = "mostro_chat_cursors"
