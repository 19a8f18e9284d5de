"""The exactly-once handoff writer (ESC-2…ESC-4) and adoption of stray escalations (GAP-4)."""

import hashlib
import json

import pytest

from serbero.db.connection import database
from serbero.db.models import AuditEvent, Dispute, Transition
from serbero.escalation import handoff
from serbero.escalation.models import EscalationHandoff
from tests.escalation.conftest import NOW

EVENT_ID = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
RATIONALE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.fixture(autouse=True)
def on_each_backend(backend, db):
    """Every test here runs on SQLite and on PostgreSQL."""


def state(dispute):
    return Dispute.get_by_id(dispute.dispute_id).lifecycle_state


def rows():
    return (AuditEvent.select().count(), EscalationHandoff.select().count(),
            Transition.select().count())


def test_an_escalation_writes_recommendation_package_and_state_change_together(make_dispute):
    # Given a notified dispute
    d = make_dispute(state="notified")
    # When it is escalated with evidence and rationale references
    prepared = handoff.prepare(d.dispute_id, trigger="round_limit", now=NOW,
                               evidence_refs=[EVENT_ID], rationale_refs=[RATIONALE],
                               prompt_bundle_id="phase3-default", policy_hash="ph")
    # Then the two audit rows hold the ESC-4 payloads, in order, with the bundle columns
    recommended, prepared_row = AuditEvent.select().order_by(AuditEvent.id)
    assert (recommended.kind, prepared_row.kind) == ("escalation_recommended", "handoff_prepared")
    assert recommended.payload == {"dispute_id": d.dispute_id, "trigger": "round_limit",
                                   "evidence_refs": [EVENT_ID], "rationale_refs": [RATIONALE]}
    assert prepared_row.payload_json == (
        f'{{"dispute_id":"{d.dispute_id}","trigger":"round_limit","evidence_refs":["{EVENT_ID}"],'
        f'"prompt_bundle_id":"phase3-default","policy_hash":"ph","rationale_refs":["{RATIONALE}"],'
        f'"assembled_at":{NOW}}}')
    columns = {(r.prompt_bundle_id, r.policy_hash, r.session_id)
               for r in (recommended, prepared_row)}
    assert columns == {("phase3-default", "ph", None)}
    # And the handoff is the handoff_prepared row, pending, and the dispute is escalated
    assert (prepared.handoff_id, prepared.created, prepared.status) == \
        (prepared_row.id, True, "pending")
    assert EscalationHandoff.get_by_id(prepared.handoff_id).recommended_event_id == recommended.id
    assert state(d) == "escalated"
    assert Transition.get(Transition.to_state == "escalated").trigger == "escalation:round_limit"


def test_a_second_escalation_of_the_same_dispute_and_trigger_writes_nothing(make_dispute):
    d = make_dispute()
    first = handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    before = rows()
    again = handoff.prepare(d.dispute_id, trigger="manual", now=NOW + 5,
                            evidence_refs=[EVENT_ID])
    assert rows() == before
    assert (again.handoff_id, again.created) == (first.handoff_id, False)


def test_another_trigger_on_an_escalated_dispute_writes_nothing(make_dispute):
    # ESC-3; issue 10, defect 5: each trigger used to write its own handoff (and DMs)
    d = make_dispute()
    first = handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    before = rows()
    second = handoff.prepare(d.dispute_id, trigger="fraud_indicator", now=NOW + 5)
    assert rows() == before
    assert (second.handoff_id, second.created) == (first.handoff_id, False)
    # a session-scoped escalation of the same dispute is still its own (ESC-2)
    assert handoff.prepare(d.dispute_id, session_id="sess-1", trigger="round_limit",
                           now=NOW).created


def test_a_handoff_keyed_per_trigger_by_an_earlier_version_counts(make_dispute):
    # Given a database where an earlier version keyed dispute-scoped handoffs per trigger
    d = make_dispute()
    first = handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    (EscalationHandoff.update(dedup_key=f"dispute:{d.dispute_id}:manual")
     .where(EscalationHandoff.handoff_event_id == first.handoff_id).execute())
    before = rows()
    # When another trigger escalates the dispute, Then nothing new is written
    second = handoff.prepare(d.dispute_id, trigger="notification_failed", now=NOW + 5)
    assert rows() == before and second.handoff_id == first.handoff_id


def test_a_session_is_escalated_once_whatever_the_trigger(make_dispute):
    d = make_dispute()
    first = handoff.prepare(d.dispute_id, session_id="sess-1", trigger="low_confidence", now=NOW)
    before = rows()
    second = handoff.prepare(d.dispute_id, session_id="sess-1", trigger="round_limit", now=NOW)
    assert rows() == before and not second.created and second.handoff_id == first.handoff_id
    payload = AuditEvent.get_by_id(first.handoff_id).payload_json
    assert '"session_id":"sess-1"' in payload
    assert AuditEvent.get_by_id(first.handoff_id).session_id == "sess-1"


def test_again_makes_another_handoff(make_dispute):
    d = make_dispute()
    first = handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
    second = handoff.prepare(d.dispute_id, trigger="manual", now=NOW, again=True)
    assert second.created and second.handoff_id != first.handoff_id
    assert not handoff.prepare(d.dispute_id, trigger="manual", now=NOW).created


def test_prose_in_the_evidence_travels_only_as_its_hash(make_dispute):
    d = make_dispute()
    prepared = handoff.prepare(d.dispute_id, trigger="manual", now=NOW,
                               evidence_refs=["the buyer says: I paid", EVENT_ID])
    refs = json.loads(AuditEvent.get_by_id(prepared.handoff_id).payload_json)["evidence_refs"]
    digest = hashlib.sha256(b"the buyer says: I paid").hexdigest()
    assert refs == [f"sha256:{digest}", EVENT_ID]
    assert "paid" not in AuditEvent.get_by_id(prepared.handoff_id).payload_json


def test_a_new_dispute_keeps_its_state_but_still_gets_a_handoff(make_dispute):
    # `escalated` is reachable only from notified, taken and waiting
    d = make_dispute(state="new")
    assert handoff.prepare(d.dispute_id, trigger="manual", now=NOW).created
    assert state(d) == "new"


def test_a_trigger_that_is_not_a_token_is_refused_before_writing(make_dispute):
    d = make_dispute()
    with pytest.raises(ValueError, match="snake_case"):
        handoff.prepare(d.dispute_id, trigger="Manual Escalation", now=NOW)
    assert rows() == (0, 0, 0)


def test_a_failure_later_in_the_callers_transaction_leaves_no_half_escalation(make_dispute):
    d = make_dispute()
    with pytest.raises(RuntimeError), database.atomic():
        handoff.prepare(d.dispute_id, trigger="manual", now=NOW)
        raise RuntimeError("the caller's next step failed")
    assert rows() == (0, 0, 0)
    assert state(d) == "notified"


def test_a_bare_recommendation_from_another_writer_gets_a_handoff(make_dispute):
    # GAP-4: the original's summary path writes only `escalation_recommended`
    d = make_dispute()
    bare = AuditEvent.create(kind="escalation_recommended", dispute_id=d.dispute_id,
                             session_id="sess-7", prompt_bundle_id="b", policy_hash="h",
                             payload_json=json.dumps({"trigger": "notification_failed",
                                                      "session_id": "sess-7",
                                                      "reason": "no recipients"}),
                             occurred_at=NOW - 10)
    assert handoff.adopt(NOW) == 1
    tracked = EscalationHandoff.get(EscalationHandoff.recommended_event_id == bare.id)
    assert AuditEvent.get_by_id(tracked.handoff_event_id).payload_json == (
        f'{{"dispute_id":"{d.dispute_id}","session_id":"sess-7","trigger":"notification_failed",'
        f'"evidence_refs":[],"prompt_bundle_id":"b","policy_hash":"h","rationale_refs":[],'
        f'"assembled_at":{NOW - 10}}}')
    assert state(d) == "escalated"
    # and adopting again changes nothing
    assert handoff.adopt(NOW + 1) == 0
    assert EscalationHandoff.select().count() == 1


def test_a_handoff_prepared_row_written_elsewhere_is_tracked_as_pending(make_dispute):
    stray = AuditEvent.create(kind="handoff_prepared", payload_json="not valid json",
                              occurred_at=NOW)
    assert handoff.adopt(NOW) == 1
    tracked = EscalationHandoff.get_by_id(stray.id)
    assert (tracked.status, tracked.dispute_id, tracked.next_attempt_at) == \
        ("pending", "unknown", NOW)
    assert handoff.adopt(NOW) == 0
