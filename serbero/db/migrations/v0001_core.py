"""Version 1: disputes, notifications, the outbox, lifecycle audit, the inbox and the cursor.

Column names and enum tokens follow the original's schema where it has them, so the operator
recipes (OBS-*) keep working; additions are commented.
"""

STATEMENTS = [
    """
    CREATE TABLE disputes (
        dispute_id        TEXT PRIMARY KEY,
        event_id          TEXT NOT NULL UNIQUE,
        mostro_pubkey     TEXT NOT NULL,
        initiator_role    TEXT NOT NULL,
        dispute_status    TEXT NOT NULL DEFAULT 'initiated',  -- latest Mostro status (GAP-28)
        event_timestamp   BIGINT NOT NULL,
        opened_at         BIGINT,             -- published_at (or older created_at) tag
        detected_at       BIGINT NOT NULL,
        detected_at_ms    BIGINT,             -- for latency figures
        lifecycle_state   TEXT NOT NULL DEFAULT 'new',
        assigned_solver   TEXT,
        last_notified_at  BIGINT,
        last_state_change BIGINT,
        status_event_id   TEXT NOT NULL,      -- newest revision applied
        status_event_at   BIGINT NOT NULL,
        status_stage      INTEGER NOT NULL,   -- 0 initiated, 1 in-progress, 2 terminal
        renotify_count    INTEGER NOT NULL DEFAULT 0,
        next_renotify_at  BIGINT,
        notify_rounds     INTEGER NOT NULL DEFAULT 0,  -- initial notification rounds (GAP-3)
        next_notify_at    BIGINT
    )
    """,
    "CREATE INDEX idx_disputes_lifecycle_state ON disputes (lifecycle_state)",
    "CREATE INDEX idx_disputes_next_renotify ON disputes (next_renotify_at)",
    "CREATE INDEX idx_disputes_next_notify ON disputes (next_notify_at)",
    """
    CREATE TABLE outbox (
        id              {pk},
        kind            TEXT NOT NULL,
        purpose         TEXT,               -- what the row is for, read by its kind
        dispute_id      TEXT REFERENCES disputes (dispute_id),
        recipient       TEXT NOT NULL,
        event_id        TEXT NOT NULL UNIQUE,
        event_json      TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        created_at      BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        sent_at         BIGINT,
        created_at_ms   BIGINT,
        sent_at_ms      BIGINT,
        relays          TEXT
    )
    """,
    "CREATE INDEX idx_outbox_due ON outbox (status, next_attempt_at)",
    "CREATE INDEX idx_outbox_dispute ON outbox (dispute_id)",
    """
    CREATE TABLE notifications (
        id            {pk},
        dispute_id    TEXT NOT NULL REFERENCES disputes (dispute_id),
        solver_pubkey TEXT NOT NULL,
        sent_at       BIGINT,
        status        TEXT NOT NULL,          -- pending, sent, failed, cancelled
        error_message TEXT,
        notif_type    TEXT NOT NULL DEFAULT 'initial',
        outbox_id     BIGINT REFERENCES outbox (id),
        created_at    BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_notifications_dispute_id ON notifications (dispute_id)",
    "CREATE INDEX idx_notifications_outbox_id ON notifications (outbox_id)",
    """
    CREATE TABLE dispute_state_transitions (
        id              {pk},
        dispute_id      TEXT NOT NULL REFERENCES disputes (dispute_id),
        from_state      TEXT,
        to_state        TEXT NOT NULL,
        transitioned_at BIGINT NOT NULL,
        trigger         TEXT
    )
    """,
    "CREATE INDEX idx_state_transitions_dispute_id ON dispute_state_transitions (dispute_id)",
    """
    CREATE TABLE processed_inputs (
        key          TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,
        outcome      TEXT NOT NULL,
        processed_at BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE listener_cursors (
        name       TEXT PRIMARY KEY,
        since      BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE mediation_events (
        id               {pk},
        session_id       TEXT,
        dispute_id       TEXT,               -- addition: dispute-scoped rows without json_extract
        kind             TEXT NOT NULL,
        payload_json     TEXT NOT NULL DEFAULT '{{}}',
        rationale_id     TEXT,
        prompt_bundle_id TEXT,
        policy_hash      TEXT,
        occurred_at      BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_mediation_events_session_kind ON mediation_events (session_id, kind)",
    "CREATE INDEX idx_mediation_events_dispute ON mediation_events (dispute_id)",
]
