"""Detection and initial notification through a real worker, Redis and relay (TST-P1-DET)."""

from serbero.db.models import Dispute, Notification, Transition
from serbero_workers import actors


def test_new_dispute_reaches_every_solver_once(nostr_loop, mostro, solver_ana, solver_bo,
                                               runtime, broker, worker):
    # Given a dispute opened by the buyer
    event = mostro.revision("1f0a9f7e-3c1b-4b7e-9a2d-5e6f7a8b9c0d", "initiated",
                            initiator="buyer")
    # When a worker ingests it
    actors.ingest_dispute_event.send(event.as_json())
    broker.join("events")
    # Then each solver decrypts one DM with the dispute id, the initiator and the timestamp
    for inbox in (solver_ana, solver_bo):
        [text] = nostr_loop.run(inbox.wait_for(1, "New Mostro dispute"), 15)
        assert "dispute_id: 1f0a9f7e-3c1b-4b7e-9a2d-5e6f7a8b9c0d" in text
        assert "initiator: buyer" in text
        assert f"event_timestamp: {event.created_at().as_secs()}" in text
        assert inbox.messages[0].sender == runtime.signer.public_key().to_hex()
    dispute = Dispute.get_by_id("1f0a9f7e-3c1b-4b7e-9a2d-5e6f7a8b9c0d")
    assert dispute.lifecycle_state == "notified"
    assert Notification.select().where(Notification.status == "sent").count() == 2
    assert [t.to_state for t in Transition.select().order_by(Transition.id)] == ["new", "notified"]

