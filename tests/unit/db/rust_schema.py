"""The Rust Serbero's database schema at its version 5 (spec §8.2, DB-2), as its daemon leaves
it: `schema_version` holds only `version`, rows 1 to 5."""

STATEMENTS = [
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY)",
    """CREATE TABLE disputes (
        dispute_id TEXT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,
        mostro_pubkey TEXT NOT NULL, initiator_role TEXT NOT NULL,
        dispute_status TEXT NOT NULL DEFAULT 'initiated', event_timestamp INTEGER NOT NULL,
        detected_at INTEGER NOT NULL, lifecycle_state TEXT NOT NULL DEFAULT 'new',
        assigned_solver TEXT, last_notified_at INTEGER, last_state_change INTEGER)""",
    """CREATE TABLE notifications (
        id {pk}, dispute_id TEXT NOT NULL REFERENCES disputes (dispute_id),
        solver_pubkey TEXT NOT NULL, sent_at INTEGER NOT NULL, status TEXT NOT NULL,
        error_message TEXT, notif_type TEXT NOT NULL DEFAULT 'initial')""",
    """CREATE TABLE dispute_state_transitions (
        id {pk}, dispute_id TEXT NOT NULL REFERENCES disputes (dispute_id), from_state TEXT,
        to_state TEXT NOT NULL, transitioned_at INTEGER NOT NULL, trigger TEXT)""",
    """CREATE TABLE mediation_sessions (
        session_id TEXT PRIMARY KEY, dispute_id TEXT NOT NULL REFERENCES disputes (dispute_id),
        state TEXT NOT NULL, round_count INTEGER NOT NULL DEFAULT 0,
        prompt_bundle_id TEXT NOT NULL, policy_hash TEXT NOT NULL,
        started_at INTEGER NOT NULL, last_transition_at INTEGER NOT NULL,
        round_count_last_evaluated INTEGER NOT NULL DEFAULT 0,
        consecutive_eval_failures INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE reasoning_rationales (
        rationale_id TEXT PRIMARY KEY, session_id TEXT, provider TEXT NOT NULL,
        model TEXT NOT NULL, prompt_bundle_id TEXT NOT NULL, policy_hash TEXT NOT NULL,
        rationale_text TEXT NOT NULL, generated_at INTEGER NOT NULL)""",
    """CREATE TABLE mediation_events (
        id {pk}, session_id TEXT, kind TEXT NOT NULL, payload_json TEXT NOT NULL DEFAULT '{{}}',
        rationale_id TEXT, prompt_bundle_id TEXT, policy_hash TEXT,
        occurred_at INTEGER NOT NULL)""",
    """CREATE TABLE escalation_dispatches (
        dispatch_id TEXT PRIMARY KEY, dispute_id TEXT NOT NULL, session_id TEXT,
        handoff_event_id INTEGER NOT NULL, target_solver TEXT NOT NULL,
        dispatched_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'dispatched',
        fallback_broadcast INTEGER NOT NULL DEFAULT 0)""",
    "INSERT INTO schema_version (version) VALUES (1), (2), (3), (4), (5)",
    """INSERT INTO disputes (dispute_id, event_id, mostro_pubkey, initiator_role,
        event_timestamp, detected_at) VALUES
        ('4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10', 'e1', 'm', 'buyer', 1700000000, 1700000001)""",
]
DIALECT = {"sqlite": {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT"},
           "postgres": {"pk": "BIGSERIAL PRIMARY KEY"}}


def create(db, dialect: str, version: int = 5) -> None:
    """The schema as the Rust daemon leaves it at `version` 5, or at 2 (no mediation tables)."""
    versions = ", ".join(f"({v})" for v in range(1, version + 1))
    for statement in STATEMENTS:
        if version < 3 and ("mediation" in statement or "reasoning" in statement
                            or "escalation" in statement):
            continue
        sql = (f"INSERT INTO schema_version (version) VALUES {versions}"
               if statement.startswith("INSERT INTO schema_version") else statement)
        db.execute_sql(sql.format(**DIALECT[dialect]))
