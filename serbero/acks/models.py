"""Storage of acknowledgements (migration v0009): one row per solver and scope."""

from __future__ import annotations

from peewee import AutoField, BigIntegerField, TextField

from serbero.db.models import BaseModel

#: Scopes: the dispute itself, or the handoff a person received about it.
DISPUTE, HANDOFF = "dispute", "handoff"
#: Sources: an `ack` reply, or a take naming the solver.
REPLY, TAKE = "reply", "take"


class SolverAcknowledgement(BaseModel):
    id = AutoField()
    dispute_id = TextField()
    solver_pubkey = TextField()
    scope = TextField()
    source = TextField()
    acknowledged_at = BigIntegerField()

    class Meta:
        table_name = "solver_acknowledgements"
