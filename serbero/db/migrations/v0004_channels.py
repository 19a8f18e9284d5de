"""Version 4: channels and run-time subscriptions.

* `outbox` rows name their `channel` (`nostr`, `webhook`) and their `purpose` (the module whose
  hooks follow the outcome; formerly `kind`); `notice_type` (formerly `purpose`) is what a
  notice says, as its purpose reads it. `message_id` and `body` (formerly `event_id`,
  `event_json`) hold a signed Nostr event and its id, or a webhook notice's JSON and its
  idempotency key; `accepted_by` (formerly `relays`) lists the relays, or the webhook, that
  took it. Stored values keep their meaning: existing rows are `nostr` rows.
* `wanted_subscriptions`: relay subscriptions that workers ask the listener to hold while
  they need them (a mediation session's chat, say). The listener only reads this table.
"""

STATEMENTS = [
    "ALTER TABLE outbox RENAME COLUMN purpose TO notice_type",
    "ALTER TABLE outbox RENAME COLUMN kind TO purpose",
    "ALTER TABLE outbox RENAME COLUMN event_id TO message_id",
    "ALTER TABLE outbox RENAME COLUMN event_json TO body",
    "ALTER TABLE outbox RENAME COLUMN relays TO accepted_by",
    "ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'nostr'",
    """
    CREATE TABLE wanted_subscriptions (
        name         TEXT PRIMARY KEY,   -- the subscription id on the relays
        filters_json TEXT NOT NULL,      -- JSON list of NIP-01 filters
        target       TEXT NOT NULL,      -- where the listener hands matching events
        created_at   BIGINT NOT NULL,
        expires_at   BIGINT              -- ignored after this (its worker gave up); NULL: never
    )
    """,
]
