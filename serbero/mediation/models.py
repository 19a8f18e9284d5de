"""peewee models of mediation's tables (migration v0008); like every model, they never create
tables. Party text lives in `MediationMessage.content` only: events, logs and handoffs carry ids.
"""

from __future__ import annotations

from peewee import AutoField, BigIntegerField, CompositeKey, FloatField, IntegerField, TextField

from serbero.db.models import BaseModel
from serbero.reasoning.types import BUYER, SELLER

PARTIES = (BUYER, SELLER)
INBOUND, OUTBOUND = "inbound", "outbound"


class MediationSession(BaseModel):
    """One dispute's mediation, from the claim to its end; see `sessions` for the states."""

    session_id = TextField(primary_key=True)
    dispute_id = TextField(unique=True)
    state = TextField()
    version = IntegerField(default=0)
    started_by = TextField()
    prompt_bundle_id = TextField()
    policy_hash = TextField()
    max_rounds = IntegerField()
    quiet_period_s = IntegerField()
    reply_timeout_s = IntegerField()
    reminder_after_s = IntegerField()
    default_language = TextField()
    take_attempts = IntegerField(default=0)
    order_id = TextField(null=True)
    buyer_trade_pubkey = TextField(null=True)
    seller_trade_pubkey = TextField(null=True)
    buyer_sign_pubkey = TextField(null=True)
    seller_sign_pubkey = TextField(null=True)
    buyer_conv_pubkey = TextField(null=True)
    seller_conv_pubkey = TextField(null=True)
    buyer_language = TextField(null=True)
    seller_language = TextField(null=True)
    opening_decision = TextField(null=True)
    opening_buyer_text = TextField(null=True)
    opening_seller_text = TextField(null=True)
    current_classification = TextField(null=True)
    current_confidence = FloatField(null=True)
    rounds_asked = IntegerField(default=0)
    evaluations = IntegerField(default=0)
    evaluated_through = BigIntegerField(default=0)
    consecutive_eval_failures = IntegerField(default=0)
    buyer_waiting_since = BigIntegerField(null=True)
    seller_waiting_since = BigIntegerField(null=True)
    buyer_reminded_at = BigIntegerField(null=True)
    seller_reminded_at = BigIntegerField(null=True)
    buyer_last_seen_inner_ts = BigIntegerField(null=True)
    seller_last_seen_inner_ts = BigIntegerField(null=True)
    own_revision_event_id = TextField(null=True)
    end_reason = TextField(null=True)
    started_at = BigIntegerField()
    opened_at = BigIntegerField(null=True)
    last_transition_at = BigIntegerField()
    ended_at = BigIntegerField(null=True)

    class Meta:
        table_name = "mediation_sessions"

    @property
    def opened(self) -> bool:
        """Whether the take landed: the parties' channels are known."""
        return self.buyer_trade_pubkey is not None and self.seller_trade_pubkey is not None

    def of(self, party: str, column: str) -> object:
        """`buyer_<column>` or `seller_<column>`."""
        return getattr(self, f"{party}_{column}")

    def pinned(self) -> dict[str, str]:
        return {"prompt_bundle_id": self.prompt_bundle_id, "policy_hash": self.policy_hash}


class MediationMessage(BaseModel):
    """One chat message of a session; `party` is the sender (inbound) or addressee (outbound)."""

    id = AutoField()
    session_id = TextField()
    direction = TextField()
    party = TextField()
    shared_pubkey = TextField()
    inner_event_id = TextField()
    inner_event_created_at = BigIntegerField()
    outer_event_id = TextField(unique=True)
    content = TextField()
    template = TextField(null=True)
    language = TextField(null=True)
    prompt_bundle_id = TextField(null=True)
    policy_hash = TextField(null=True)
    outbox_id = BigIntegerField(null=True)
    attachment = IntegerField(default=0)
    stale = IntegerField(default=0)
    forwarded_at = BigIntegerField(null=True)
    persisted_at = BigIntegerField()
    published_at = BigIntegerField(null=True)

    class Meta:
        table_name = "mediation_messages"


class MediationSummary(BaseModel):
    """A cooperative summary delivered (or about to be) to the solvers (SUM-5)."""

    id = AutoField()
    session_id = TextField()
    dispute_id = TextField()
    classification = TextField()
    confidence = FloatField()
    suggested_next_step = TextField()
    summary_text = TextField()
    prompt_bundle_id = TextField()
    policy_hash = TextField()
    rationale_id = TextField(null=True)
    generated_at = BigIntegerField()

    class Meta:
        table_name = "mediation_summaries"


class MediationTimer(BaseModel):
    """A session's delayed work of one kind and the token of the job that may do it."""

    session_id = TextField()
    kind = TextField()
    token = TextField()
    due_at = BigIntegerField()

    class Meta:
        table_name = "mediation_timers"
        primary_key = CompositeKey("session_id", "kind")
