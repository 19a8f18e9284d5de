"""Version 3: escalation handoffs and their dispatch (Phase 4).

`escalation_dispatches` is the original's v5 table (same columns, same unique index, so OBS-9
keeps working) plus `attempt` for re-dispatches after a failed send. The additions:

* `escalation_handoffs` tracks each handoff (a `handoff_prepared` audit row) through dispatch:
  its status, the pinned routing, the retry schedule and token, and the key that makes an
  escalation happen once. Parked handoffs (unroutable, superseded) leave the scan's due set,
  so however many there are they never block the others (GAP-11).
* `escalation_dms` links each outbox row of a handoff DM to its handoff, so a publish outcome
  can settle the handoff.
"""

STATEMENTS = [
    """
    CREATE TABLE escalation_dispatches (
        dispatch_id        TEXT PRIMARY KEY,
        dispute_id         TEXT NOT NULL REFERENCES disputes (dispute_id),
        session_id         TEXT,
        handoff_event_id   BIGINT NOT NULL REFERENCES mediation_events (id),
        target_solver      TEXT NOT NULL,
        dispatched_at      BIGINT NOT NULL,
        created_at         BIGINT NOT NULL,
        status             TEXT NOT NULL DEFAULT 'dispatched'
                           CHECK (status IN ('dispatched', 'send_failed')),
        fallback_broadcast INTEGER NOT NULL DEFAULT 0,
        attempt            INTEGER NOT NULL DEFAULT 1   -- addition: 1 + re-dispatches
    )
    """,
    "CREATE INDEX idx_escalation_dispatches_dispute ON escalation_dispatches (dispute_id)",
    "CREATE UNIQUE INDEX idx_escalation_dispatches_handoff "
    "ON escalation_dispatches (handoff_event_id)",
    """
    CREATE TABLE escalation_handoffs (
        handoff_event_id     BIGINT PRIMARY KEY REFERENCES mediation_events (id),
        recommended_event_id BIGINT UNIQUE,  -- the escalation_recommended row it answers
        dedup_key            TEXT UNIQUE,    -- session:<id> or dispute:<id>:<trigger>; NULL = again
        dispute_id           TEXT NOT NULL,  -- no FK: an orphan reference is recorded, not refused
        session_id           TEXT,
        trigger              TEXT,
        status               TEXT NOT NULL,
        version              INTEGER NOT NULL DEFAULT 0,  -- compare-and-set counter
        route                TEXT,           -- targeted, broadcast, fallback, manual (pinned)
        recipients           TEXT,           -- JSON list, pinned when the DMs are written
        requested_by         TEXT,           -- operator of a manual escalation
        attempts             INTEGER NOT NULL DEFAULT 0,
        next_attempt_at      BIGINT,
        retry_token          TEXT,
        unroutable_at        BIGINT,
        superseded_at        BIGINT,
        delivered_at         BIGINT,
        created_at           BIGINT NOT NULL,
        updated_at           BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_escalation_handoffs_due ON escalation_handoffs (status, next_attempt_at)",
    "CREATE INDEX idx_escalation_handoffs_dispute ON escalation_handoffs (dispute_id)",
    """
    CREATE TABLE escalation_dms (
        outbox_id        BIGINT PRIMARY KEY REFERENCES outbox (id),
        handoff_event_id BIGINT NOT NULL REFERENCES escalation_handoffs (handoff_event_id),
        attempt          INTEGER NOT NULL
    )
    """,
    "CREATE INDEX idx_escalation_dms_handoff ON escalation_dms (handoff_event_id, attempt)",
    # The dispatcher looks for handoff and escalation rows by kind every cycle.
    "CREATE INDEX idx_mediation_events_kind ON mediation_events (kind, id)",
]
