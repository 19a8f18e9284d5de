"""Version 2: the Mostro protocol layer's tables: take-dispute requests, the node's announced
info, and the dispute chat's durable inner-id dedup and per-conversation cursors."""

STATEMENTS = [
    """
    CREATE TABLE mostro_take_requests (
        id             {pk},
        request_id     BIGINT NOT NULL UNIQUE,  -- echoed by Mostro; random, never reused
        dispute_id     TEXT NOT NULL,
        status         TEXT NOT NULL,          -- pending, taken, refused, timed_out, unsent,
                                               -- possible_silent_take
        transport      TEXT NOT NULL,          -- v1 (gift wrap) or v2 (kind 14)
        pow_bits       INTEGER NOT NULL,
        event_id       TEXT NOT NULL,
        outbox_id      BIGINT,
        created_at     BIGINT NOT NULL,
        deadline_at    BIGINT NOT NULL,
        sent_at        BIGINT,
        resolved_at    BIGINT,
        reason         TEXT,                   -- cant-do reason, or why it was not sent
        reply_event_id TEXT,
        order_id       TEXT,                   -- from SolverDisputeInfo
        buyer_pubkey   TEXT,                   -- trade keys: chat keys are re-derived (GAP-2)
        seller_pubkey  TEXT,
        closed_status  TEXT                    -- released / cooperatively-canceled (mostrod #945)
    )
    """,
    # At most one request in flight per dispute, whatever the number of workers.
    "CREATE UNIQUE INDEX ux_mostro_take_pending ON mostro_take_requests (dispute_id) "
    "WHERE status = 'pending'",
    "CREATE INDEX idx_mostro_take_dispute ON mostro_take_requests (dispute_id)",
    "CREATE INDEX idx_mostro_take_due ON mostro_take_requests (status, deadline_at)",
    """
    CREATE TABLE mostro_node_info (
        node_pubkey       TEXT PRIMARY KEY,
        event_id          TEXT NOT NULL,
        created_at        BIGINT NOT NULL,
        protocol_version  INTEGER,
        pow               INTEGER,
        pow_first_contact INTEGER,
        mostro_version    TEXT,
        serbero_tag       TEXT,                -- the announced `serbero` value, verbatim
        recorded_at       BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE mostro_chat_seen (
        inner_id         TEXT PRIMARY KEY,
        conversation     TEXT NOT NULL,         -- pub(K_conv) of the channel
        outer_id         TEXT NOT NULL,
        sender           TEXT NOT NULL,
        inner_created_at BIGINT NOT NULL,
        content_kind     TEXT NOT NULL,         -- text or attachment
        accepted_at      BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_mostro_chat_seen_conv ON mostro_chat_seen (conversation, inner_created_at)",
    """
    CREATE TABLE mostro_chat_cursors (
        conversation TEXT PRIMARY KEY,
        since        BIGINT NOT NULL,
        updated_at   BIGINT NOT NULL
    )
    """,
]
