"""Version 9: solver acknowledgements and escalation tiers (issue 9).

* `solver_acknowledgements`: one row per solver who acknowledged a dispute (`scope` 'dispute')
  or its handoff (`scope` 'handoff'), by a reply (`source` 'reply': `ack` in a DM to Serbero)
  or by taking it (`source` 'take'). Unix seconds, as every other timestamp. The first row of a
  dispute is the one that counts for time-to-acknowledge; later ones are kept for the record.
* `disputes.acknowledged_by` (hex pubkey) and `disputes.acknowledged_at`: the first
  acknowledgement, set once by a conditional UPDATE (`... WHERE acknowledged_at IS NULL`), so
  of two solvers acknowledging at once exactly one is recorded first.
* `notification_tiers`: a dispute's progress along `[[notifications.tiers]]`, one row per
  dispute notified through tiers. `tier_index` is the tier reached (0-based, so metrics and
  screens show it plus one); `tier_entered_at` when it was entered; `sent_in_tier` notices of
  that tier sent so far (its repeat counter); `step_token` the token of the one delayed step
  allowed to act (a dramatiq message cannot be revoked: a step whose token is not this one is
  dropped), NULL once the chain stopped (acknowledged, taken, resolved, exhausted);
  `next_step_at` when that step is due (the periodic scan's safety net for a lost message);
  `suggested_solver` / `suggested_at` the round-robin suggestion made when the chain started
  (ties between equally loaded write solvers go to the one suggested least recently);
  `stopped_reason` why the chain stopped.
"""

STATEMENTS = [
    """
    CREATE TABLE solver_acknowledgements (
        id              {pk},
        dispute_id      TEXT NOT NULL REFERENCES disputes (dispute_id),
        solver_pubkey   TEXT NOT NULL,   -- hex
        scope           TEXT NOT NULL,   -- dispute | handoff
        source          TEXT NOT NULL,   -- reply | take
        acknowledged_at BIGINT NOT NULL,
        UNIQUE (dispute_id, solver_pubkey, scope)
    )
    """,
    "CREATE INDEX idx_solver_acks_solver ON solver_acknowledgements (solver_pubkey)",
    "ALTER TABLE disputes ADD COLUMN acknowledged_by TEXT",
    "ALTER TABLE disputes ADD COLUMN acknowledged_at BIGINT",
    """
    CREATE TABLE notification_tiers (
        dispute_id       TEXT PRIMARY KEY REFERENCES disputes (dispute_id),
        tier_index       INTEGER NOT NULL,
        tier_entered_at  BIGINT NOT NULL,
        sent_in_tier     INTEGER NOT NULL DEFAULT 0,
        step_token       TEXT,
        next_step_at     BIGINT,
        suggested_solver TEXT,
        suggested_at     BIGINT,
        stopped_reason   TEXT,
        started_at       BIGINT NOT NULL,
        updated_at       BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_notification_tiers_due ON notification_tiers (next_step_at)",
]
