"""Session states move only along the one predecessor table, by compare-and-set; timers act only
for the job holding their current token, and the tick finds the ones a lost job left due."""

import itertools
import uuid

from serbero.db.models import AuditEvent
from serbero.mediation import sessions, timers
from serbero.mediation.models import MediationSession

NOW = 1_750_000_000


def make_session(state: str, **columns) -> MediationSession:
    values = dict(session_id=str(uuid.uuid4()), dispute_id=str(uuid.uuid4()), state=state,
                  started_by="detected", prompt_bundle_id="phase3-default", policy_hash="h" * 64,
                  max_rounds=2, quiet_period_s=20, reply_timeout_s=1800, reminder_after_s=900,
                  default_language="en", started_at=NOW, last_transition_at=NOW)
    values.update(columns)
    return MediationSession.create(**values)


def test_the_table_allows_exactly_the_documented_moves():
    legal = {(a, b) for a, b in itertools.product(sessions.STATES, repeat=2)
             if sessions.is_legal(a, b)}
    live = sessions.LIVE
    expected = {("opening", "taking"), ("taking", "awaiting_response"),
                ("taking", "summary_pending"), ("awaiting_response", "summary_pending"),
                ("summary_pending", "summary_delivered"), ("opening", "failed"),
                ("taking", "failed"), ("summary_delivered", "escalation_recommended"),
                ("summary_delivered", "closed"), ("escalation_recommended", "closed")}
    expected |= {(s, "escalation_recommended") for s in live}
    expected |= {(s, "superseded_by_human") for s in live}
    assert legal == expected
    assert not any(sessions.is_legal(end, to) for end in sessions.ENDED for to in sessions.STATES)


def test_two_writers_moving_one_session_give_one_move_and_an_explained_loss(db, backend):
    # Given two workers that read the same session
    row = make_session(sessions.AWAITING)
    first, second = sessions.get(row.session_id), sessions.get(row.session_id)
    # When both try to hand it over
    assert sessions.transition(first, sessions.ESCALATED, at=NOW, reason="conflicting_claims")
    assert not sessions.transition(second, sessions.SUPERSEDED, at=NOW, reason="human")
    # Then one move happened, and the other is explained
    assert sessions.get(row.session_id).state == sessions.ESCALATED
    refused = AuditEvent.get(AuditEvent.kind == "mediation_transition_refused")
    assert refused.payload["why"] == "lost_race" and refused.session_id == row.session_id


def test_an_illegal_move_changes_nothing(db):
    row = make_session(sessions.CLOSED)
    assert not sessions.transition(row, sessions.AWAITING, at=NOW, reason="oops")
    assert sessions.get(row.session_id).state == sessions.CLOSED
    assert AuditEvent.get(AuditEvent.kind == "mediation_transition_refused") \
        .payload["why"] == "illegal"


def test_a_timer_acts_once_for_its_current_token_only(db):
    row = make_session(sessions.AWAITING)
    first = timers.arm(row.session_id, timers.EVALUATE, NOW + 20).later[0]
    second = timers.arm(row.session_id, timers.EVALUATE, NOW + 25).later[0]
    assert first.args[2] != second.args[2]
    # the earlier job is stale; the current one may not act early, nor twice
    assert timers.lease(row.session_id, timers.EVALUATE, first.args[2], now=NOW + 30,
                        lease_s=60) is None
    assert timers.lease(row.session_id, timers.EVALUATE, second.args[2], now=NOW + 24,
                        lease_s=60) is None
    held = timers.lease(row.session_id, timers.EVALUATE, second.args[2], now=NOW + 25,
                        lease_s=60)
    assert held is not None
    assert timers.lease(row.session_id, timers.EVALUATE, second.args[2], now=NOW + 25,
                        lease_s=60) is None
    timers.done(row.session_id, timers.EVALUATE, held)
    assert timers.pending(row.session_id) == {}
    assert AuditEvent.select().where(AuditEvent.kind == "mediation_timer_skipped").count() == 3


def test_the_tick_fires_timers_whose_job_was_lost_or_whose_holder_died(db):
    row = make_session(sessions.AWAITING)
    armed = timers.arm(row.session_id, timers.REPLY, NOW).later[0]
    assert timers.due(NOW).later == ()  # its own job may still come
    [lost] = timers.due(NOW + timers.LOST_AFTER_S).later
    assert lost.args == armed.args
    held = timers.lease(row.session_id, timers.REPLY, armed.args[2], now=NOW + 10, lease_s=60)
    assert timers.due(NOW + 60).later == ()  # leased: its holder is working on it
    [again] = timers.due(NOW + 10 + 60 + timers.LOST_AFTER_S).later
    assert again.args[2] == held  # the holder died: the lease itself is fired again
