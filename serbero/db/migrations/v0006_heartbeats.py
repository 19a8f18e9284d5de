"""Version 6: process heartbeats (`serbero.liveness`).

Every long-running process (a listener, `serbero run`, each worker process) writes its row every
few seconds: alive, what it sees (relays, Redis, busy threads), and a clean stop. `serbero
status` and `serbero metrics` read it in every mode, with or without Redis, and while Redis is
down. Times are Unix milliseconds.
"""

STATEMENTS = [
    """
    CREATE TABLE process_heartbeats (
        process_id   TEXT PRIMARY KEY,   -- host:pid:random
        role         TEXT NOT NULL,      -- listener | worker
        command      TEXT NOT NULL,      -- run | listen | worker
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        started_at   BIGINT NOT NULL,
        beat_at      BIGINT NOT NULL,
        stopped_at   BIGINT,             -- set by a clean stop
        details_json TEXT NOT NULL DEFAULT '{{}}'  -- JSON object
    )
    """,
    "CREATE INDEX idx_process_heartbeats_beat ON process_heartbeats (beat_at)",
]
