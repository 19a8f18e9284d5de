"""Version 8: guided mediation's tables (the original's v3/v4 tables, reshaped).

* `mediation_sessions`: one row per dispute Serbero ever tried to mediate (the dispute id is
  unique, so a dispute whose mediation closed, failed or was handed off is never tried again,
  GAP-10), from the moment a worker claims it (`opening`) to its end. It pins the prompt bundle
  and the session's rules (PB-5, STYLE habit 8), keeps both trade pubkeys so the chat keys are
  re-derived by any worker at any time (GAP-2), and the authors the listener follows
  (pub(K_sign) per party). `version` is the compare-and-set counter of a round.
* `mediation_messages`: every chat message of a session, both ways; the inner id is unique per
  session (ING-5) and the outer id everywhere, so Serbero's own messages coming back on its
  subscription are recognised before any check.
* `mediation_summaries`: the original's table (SUM-5).
* `mediation_timers`: the delayed work of each session (quiet period, reply deadlines,
  forwarding, the summary), one row per kind with the token its job must carry; a tick fires
  what a lost job left due, so a restart or a flushed Redis loses no timer.
"""

STATEMENTS = [
    """
    CREATE TABLE mediation_sessions (
        session_id                TEXT PRIMARY KEY,
        dispute_id                TEXT NOT NULL UNIQUE,
        state                     TEXT NOT NULL,
        version                   INTEGER NOT NULL DEFAULT 0,
        started_by                TEXT NOT NULL,       -- detected or tick_retry
        prompt_bundle_id          TEXT NOT NULL,
        policy_hash               TEXT NOT NULL,
        max_rounds                INTEGER NOT NULL,    -- pinned rules of the session
        quiet_period_s            INTEGER NOT NULL,
        reply_timeout_s           INTEGER NOT NULL,
        reminder_after_s          INTEGER NOT NULL,
        default_language          TEXT NOT NULL,
        take_attempts             INTEGER NOT NULL DEFAULT 0,
        order_id                  TEXT,
        buyer_trade_pubkey        TEXT,                -- trade keys: chat keys are re-derived
        seller_trade_pubkey       TEXT,
        buyer_sign_pubkey         TEXT,                -- pub(K_sign): what the listener follows
        seller_sign_pubkey        TEXT,
        buyer_conv_pubkey         TEXT,                -- pub(K_conv): the `p` of the channel
        seller_conv_pubkey        TEXT,
        buyer_language            TEXT,
        seller_language           TEXT,
        opening_decision          TEXT,                -- ask_clarification or summarize
        opening_buyer_text        TEXT,                -- guarded questions, sent once taken
        opening_seller_text       TEXT,
        current_classification    TEXT,
        current_confidence        REAL,
        rounds_asked              INTEGER NOT NULL DEFAULT 0,
        evaluations               INTEGER NOT NULL DEFAULT 0,
        evaluated_through         BIGINT NOT NULL DEFAULT 0,  -- last inbound row evaluated
        consecutive_eval_failures INTEGER NOT NULL DEFAULT 0,
        buyer_waiting_since       BIGINT,              -- asked and not answered yet (GAP-19)
        seller_waiting_since      BIGINT,
        buyer_reminded_at         BIGINT,
        seller_reminded_at        BIGINT,
        buyer_last_seen_inner_ts  BIGINT,
        seller_last_seen_inner_ts BIGINT,
        own_revision_event_id     TEXT,                -- the in-progress revision of our take
        end_reason                TEXT,
        started_at                BIGINT NOT NULL,
        opened_at                 BIGINT,
        last_transition_at        BIGINT NOT NULL,
        ended_at                  BIGINT
    )
    """,
    "CREATE INDEX idx_mediation_sessions_state ON mediation_sessions (state)",
    "CREATE INDEX idx_mediation_sessions_buyer_sign ON mediation_sessions (buyer_sign_pubkey)",
    "CREATE INDEX idx_mediation_sessions_seller_sign ON mediation_sessions (seller_sign_pubkey)",
    """
    CREATE TABLE mediation_messages (
        id                     {pk},
        session_id             TEXT NOT NULL REFERENCES mediation_sessions (session_id),
        direction              TEXT NOT NULL,      -- outbound or inbound
        party                  TEXT NOT NULL,      -- buyer or seller (outbound: the addressee)
        shared_pubkey          TEXT NOT NULL,      -- pub(K_conv) of the party's channel
        inner_event_id         TEXT NOT NULL,
        inner_event_created_at BIGINT NOT NULL,
        outer_event_id         TEXT NOT NULL UNIQUE,
        content                TEXT NOT NULL,
        template               TEXT,               -- outbound: the catalog entry it renders
        language               TEXT,
        prompt_bundle_id       TEXT,
        policy_hash            TEXT,
        outbox_id              BIGINT,
        attachment             INTEGER NOT NULL DEFAULT 0,
        stale                  INTEGER NOT NULL DEFAULT 0,
        forwarded_at           BIGINT,             -- inbound after a handoff: sent on to solvers
        persisted_at           BIGINT NOT NULL,
        published_at           BIGINT,
        UNIQUE (session_id, inner_event_id)
    )
    """,
    "CREATE INDEX idx_mediation_messages_session ON mediation_messages (session_id, direction)",
    """
    CREATE TABLE mediation_summaries (
        id                  {pk},
        session_id          TEXT NOT NULL REFERENCES mediation_sessions (session_id),
        dispute_id          TEXT NOT NULL,
        classification      TEXT NOT NULL,
        confidence          REAL NOT NULL,
        suggested_next_step TEXT NOT NULL,
        summary_text        TEXT NOT NULL,
        prompt_bundle_id    TEXT NOT NULL,
        policy_hash         TEXT NOT NULL,
        rationale_id        TEXT,
        generated_at        BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_mediation_summaries_session ON mediation_summaries (session_id)",
    """
    CREATE TABLE mediation_timers (
        session_id TEXT NOT NULL REFERENCES mediation_sessions (session_id),
        kind       TEXT NOT NULL,      -- open, evaluate, reply, summarize, forward
        token      TEXT NOT NULL,      -- the job carrying it is the only one that may act
        due_at     BIGINT NOT NULL,
        PRIMARY KEY (session_id, kind)
    )
    """,
    "CREATE INDEX idx_mediation_timers_due ON mediation_timers (due_at)",
]
