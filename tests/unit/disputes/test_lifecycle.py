"""The lifecycle table (LC-2) and the compare-and-set `transition()`."""

import pytest

from serbero.db.models import Dispute, Transition
from serbero.disputes import lifecycle
from serbero.disputes.lifecycle import PREDECESSORS, STATES, is_legal, transition

LEGAL = {
    ("new", "notified"), ("new", "taken"), ("new", "resolved"),
    ("notified", "taken"), ("notified", "escalated"), ("notified", "resolved"),
    ("taken", "waiting"), ("taken", "escalated"), ("taken", "resolved"),
    ("waiting", "taken"), ("waiting", "escalated"), ("waiting", "resolved"),
    ("escalated", "resolved"),
}


@pytest.mark.parametrize("src", STATES)
@pytest.mark.parametrize("dst", STATES)
def test_only_the_moves_of_the_table_are_legal(src, dst):
    assert is_legal(src, dst) == ((src, dst) in LEGAL)


def test_resolved_is_terminal_and_nothing_moves_to_new():
    assert not any(is_legal("resolved", s) for s in STATES)
    assert "new" not in PREDECESSORS


def make_dispute(dispute_id="d-1", state="new"):
    return Dispute.create(dispute_id=dispute_id, event_id=f"e-{dispute_id}", mostro_pubkey="m",
                          initiator_role="buyer", event_timestamp=1, detected_at=1,
                          lifecycle_state=state, status_event_id="e", status_event_at=1,
                          status_stage=0)


def test_a_legal_move_updates_the_row_and_writes_one_audit_row(db):
    make_dispute()
    assert transition("d-1", lifecycle.NOTIFIED, trigger="initial_notification", at=10,
                      last_notified_at=10) == "new"
    row = Dispute.get_by_id("d-1")
    assert (row.lifecycle_state, row.last_state_change, row.last_notified_at) == \
        ("notified", 10, 10)
    [audit] = Transition.select()
    assert (audit.from_state, audit.to_state, audit.trigger) == ("new", "notified",
                                                                 "initial_notification")


def test_an_illegal_move_changes_nothing_and_does_not_raise(db):
    make_dispute(state="resolved")
    assert transition("d-1", lifecycle.TAKEN, trigger="x", at=10) is None
    assert Dispute.get_by_id("d-1").lifecycle_state == "resolved"
    assert Transition.select().count() == 0


def test_an_unknown_dispute_is_not_an_error(db):
    assert transition("nope", lifecycle.TAKEN, trigger="x", at=1) is None


def test_a_self_move_is_refused(db):
    make_dispute(state="notified")
    assert transition("d-1", lifecycle.NOTIFIED, trigger="again", at=2) is None
    assert Transition.select().count() == 0


def test_many_disputes_move_together_only_from_the_named_state(db):
    for dispute_id in ("a", "b", "c"):
        make_dispute(dispute_id)
    make_dispute("taken-first", state="taken")

    moved = lifecycle.transition_many(["a", "b", "c", "taken-first", "unknown"],
                                      lifecycle.NOTIFIED, from_state=lifecycle.NEW,
                                      trigger="initial_notification", at=10, last_notified_at=10)

    assert sorted(moved) == ["a", "b", "c"]
    assert {d.dispute_id: (d.lifecycle_state, d.last_notified_at) for d in Dispute.select()} == {
        "a": ("notified", 10), "b": ("notified", 10), "c": ("notified", 10),
        "taken-first": ("taken", None)}
    assert sorted((t.dispute_id, t.from_state, t.to_state) for t in Transition.select()) == [
        (d, "new", "notified") for d in ("a", "b", "c")]
    # Moved once: a second call (a racing worker) finds them gone from `new`.
    assert lifecycle.transition_many(["a", "b"], lifecycle.NOTIFIED, from_state=lifecycle.NEW,
                                     trigger="again", at=11) == []
    assert Transition.select().count() == 3


def test_moving_many_refuses_an_illegal_move_and_accepts_none(db):
    make_dispute("a", state="resolved")
    with pytest.raises(ValueError, match="not a legal move"):
        lifecycle.transition_many(["a"], lifecycle.TAKEN, from_state=lifecycle.RESOLVED,
                                  trigger="x", at=1)
    assert lifecycle.transition_many([], lifecycle.NOTIFIED, from_state=lifecycle.NEW,
                                     trigger="x", at=1) == []
    assert Dispute.get_by_id("a").lifecycle_state == "resolved"
    assert Transition.select().count() == 0
