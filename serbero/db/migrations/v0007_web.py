"""Version 7: what the operator web view (`serbero.ops.web`) needs to stay fast with tens of
thousands of disputes, and the outbox column that lets an operator requeue a notice that gave up.

`outbox.requeued_at` (Unix seconds) is when an operator last put a failed row back in play; the
give-up window counts from it instead of `created_at`, which keeps saying when the row was
written.
"""

STATEMENTS = [
    "ALTER TABLE outbox ADD COLUMN requeued_at BIGINT",
    # the list's order (newest first), its age filter and the charts' window
    "CREATE INDEX idx_disputes_detected ON disputes (detected_at, dispute_id)",
    "CREATE INDEX idx_disputes_assigned ON disputes (assigned_solver)",
    # time-to-take and time-to-resolve: the first transition into a state, per dispute
    "CREATE INDEX idx_state_transitions_to_state "
    "ON dispute_state_transitions (to_state, dispute_id, transitioned_at)",
    # the failed notices of a dispute, and every failed row at once
    "CREATE INDEX idx_outbox_status_dispute ON outbox (status, dispute_id)",
]
