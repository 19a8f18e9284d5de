"""Version 5: the reasoning layer's tables.

* `reasoning_rationales` is the original's content-addressed store (RAT-1, same columns, so the
  OBS recipes keep working); its provenance columns hold the first writer's.
* `reasoning_rationale_refs` holds provenance per reference (GAP-17): two sessions, or a
  session and a fallback provider, may refer to the same text without colliding.
* `reasoning_calls` records every model call: provider, model, purpose, outcome, latency and
  tokens (never prompts or output, only output length and hash).
* `reasoning_health` keeps each provider's latest health, shared by every process.
"""

STATEMENTS = [
    """
    CREATE TABLE reasoning_rationales (
        rationale_id     TEXT PRIMARY KEY,   -- sha256 hex of the text
        session_id       TEXT,
        provider         TEXT NOT NULL,
        model            TEXT NOT NULL,
        prompt_bundle_id TEXT NOT NULL,
        policy_hash      TEXT NOT NULL,
        rationale_text   TEXT NOT NULL,
        generated_at     BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_reasoning_rationales_session ON reasoning_rationales (session_id)",
    """
    CREATE TABLE reasoning_rationale_refs (
        id               {pk},
        rationale_id     TEXT NOT NULL REFERENCES reasoning_rationales (rationale_id),
        scope            TEXT NOT NULL,      -- session:<id> or dispute:<id>
        session_id       TEXT,
        dispute_id       TEXT,
        provider         TEXT NOT NULL,
        model            TEXT NOT NULL,
        prompt_bundle_id TEXT NOT NULL,
        policy_hash      TEXT NOT NULL,
        generated_at     BIGINT NOT NULL,
        UNIQUE (rationale_id, scope, provider, model)
    )
    """,
    "CREATE INDEX idx_reasoning_rationale_refs_session ON reasoning_rationale_refs (session_id)",
    "CREATE INDEX idx_reasoning_rationale_refs_dispute ON reasoning_rationale_refs (dispute_id)",
    """
    CREATE TABLE reasoning_calls (
        id            {pk},
        purpose       TEXT NOT NULL,         -- classify, summarize, health
        origin        TEXT NOT NULL,         -- mediation, health, check, eval
        provider      TEXT NOT NULL,
        model         TEXT NOT NULL,
        position      INTEGER NOT NULL,      -- 0 = [reasoning], 1… = fallbacks
        dispute_id    TEXT,
        session_id    TEXT,
        outcome       TEXT NOT NULL,         -- ok or an error category
        http_status   INTEGER,
        attempts      INTEGER NOT NULL,
        latency_ms    INTEGER NOT NULL,
        input_tokens  INTEGER,
        output_tokens INTEGER,
        output_bytes  INTEGER,
        output_sha16  TEXT,                  -- RP-5: first 16 hex of SHA-256 of the output
        started_at    BIGINT NOT NULL
    )
    """,
    "CREATE INDEX idx_reasoning_calls_started ON reasoning_calls (started_at)",
    "CREATE INDEX idx_reasoning_calls_dispute ON reasoning_calls (dispute_id)",
    """
    CREATE TABLE reasoning_health (
        provider_key         TEXT PRIMARY KEY,  -- hash of provider, model and api_base
        provider             TEXT NOT NULL,
        model                TEXT NOT NULL,
        status               TEXT NOT NULL,     -- ok or an error category
        checked_at           BIGINT NOT NULL,
        latency_ms           INTEGER,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        healthy_at           BIGINT             -- last success
    )
    """,
]
