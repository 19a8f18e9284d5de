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
