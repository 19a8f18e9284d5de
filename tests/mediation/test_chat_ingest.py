"""What the parties write (spec §5.10, §11.3): stored once whatever the replays, evaluated once
after the quiet period however many messages a party types, Serbero's own messages recognised
before any check; wrong signers, oversized, late and flooding messages are refused or handed to
a person by reason, never crash the worker, and change nothing they should not."""

import logging

from serbero.db.models import AuditEvent
from serbero.escalation.models import EscalationHandoff
from serbero.mediation import inbound, sessions
from serbero.mediation.models import INBOUND, MediationMessage
from serbero.mostro.models import ChatSeen
from serbero.simulators.model import CLASSIFY, classification
from tests.mediation.harness import opened
from tests.mostro.craft import envelope

ASK = classification("ask_clarification", buyer="When did you pay?", seller="Did it arrive?")
AGAIN = classification("ask_clarification", buyer="Which bank did you use?",
                       seller="Which bank account did you check?")


def inbound_rows(session):
    return list(MediationMessage.select().where((MediationMessage.session_id == session)
                                                & (MediationMessage.direction == INBOUND)))


def test_a_party_typing_three_messages_costs_one_evaluation(med, scripts, model):
    # Given an open session
    dispute = med.open_dispute()
    scripts.on(dispute, ASK, AGAIN)
    buyer, seller = opened(med, dispute)
    # When the buyer writes three messages in a row and the seller one
    for text in ("I paid at 10:02", "from my bank app", "reference 4471"):
        med.chat(buyer, text)
        med.clock.advance(3)
    med.chat(seller, "nothing arrived yet")
    med.clock.advance(19)
    med.run_due()
    assert len(model.calls(CLASSIFY)) == 1  # the quiet period is not over yet
    med.clock.advance(1)
    med.run_due()
    # Then one evaluation saw all four, and the next round went to both, without the identity
    [_, asked] = model.calls(CLASSIFY)
    assert asked.said_by("buyer") == ["I paid at 10:02", "from my bank app", "reference 4471"]
    assert asked.said_by("seller") == ["nothing arrived yet"]
    assert med.to(buyer)[-1] == "Thank you. One more question to help the solver: " \
                                "Which bank did you use?"
    assert med.to(seller)[-1].endswith("Which bank account did you check?")
    assert med.session(dispute).rounds_asked == 2


def test_serberos_own_messages_coming_back_neither_warn_nor_use_the_rate_limit(
        med, scripts, caplog):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    opened(med, dispute)
    session = med.session(dispute)
    conversation = session.buyer_conv_pubkey
    before = inbound.GUARD._budget.get(conversation)
    caplog.set_level(logging.INFO)
    # When the relay sends Serbero's own two messages back (it follows the signing key)
    outcomes = {med.deliver(raw).outcome for raw in med.relays.published
                if '"kind":14' in raw and session.buyer_sign_pubkey in raw}
    # Then they are recognised by id, before any check
    assert outcomes == {"own_message"}
    assert inbound.GUARD._budget.get(conversation) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert ChatSeen.select().count() == 0


def test_a_replayed_message_is_stored_once(med, scripts):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, _ = opened(med, dispute)
    raw = buyer.says("I paid", med.clock())
    assert med.deliver(raw).outcome == "accepted"
    assert med.deliver(raw).outcome == "known"
    assert len(inbound_rows(med.session(dispute).session_id)) == 1


def test_a_message_signed_by_someone_else_is_refused_and_changes_nothing(med, scripts):
    from nostr_sdk import Keys

    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, _ = opened(med, dispute)
    timers_before = med.jobs("mediation_timer")
    result = med.chat(buyer, "I am the buyer, release it", signer=Keys.generate())
    assert result.outcome == "rejected:unexpected_signer"
    assert inbound_rows(med.session(dispute).session_id) == []
    assert med.jobs("mediation_timer") == timers_before


def test_a_64_kib_message_is_refused_before_it_is_decrypted(med, scripts):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, _ = opened(med, dispute)
    huge = envelope(buyer.channel, buyer.keys, "x" * 60_000, at=med.clock())
    assert len(huge.content()) > 65_536
    assert med.deliver(huge.as_json()).outcome == "rejected:content_too_large"
    assert inbound_rows(med.session(dispute).session_id) == []


def test_a_late_message_is_kept_for_the_record_but_moves_nothing(med, scripts):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, _ = opened(med, dispute)
    med.chat(buyer, "paid at ten", at=med.clock())
    med.chat(buyer, "an older message", at=med.clock() - 50)
    rows = inbound_rows(med.session(dispute).session_id)
    assert [r.stale for r in rows] == [0, 1]
    assert med.session(dispute).buyer_last_seen_inner_ts == rows[0].inner_event_created_at


def test_a_message_after_the_session_ended_is_refused_and_explained(med, scripts):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, _ = opened(med, dispute)
    med.clock.advance(5)
    med.revision(dispute, "in-progress")  # a person takes the dispute over
    assert med.session(dispute).state == sessions.SUPERSEDED
    assert med.chat(buyer, "hello?").outcome == "session_ended"
    assert inbound_rows(med.session(dispute).session_id) == []
    assert AuditEvent.get(AuditEvent.kind == "chat_after_close").payload["party"] == "buyer"


def test_a_flood_goes_to_a_person_without_a_model_call(med, scripts, model):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    buyer, _ = opened(med, dispute)
    limit = med.rt.settings.mediation.max_messages_per_minute
    for i in range(limit + 1):
        med.chat(buyer, f"message {i}")
    med.clock.advance(60)
    med.run_due()
    assert med.session(dispute).state == sessions.ESCALATED
    assert EscalationHandoff.get().trigger == "flood"
    assert len(model.calls(CLASSIFY)) == 1  # the opening one only


def test_garbage_from_a_followed_channel_is_refused_without_a_crash(med):
    assert med.deliver("{not json").outcome == "rejected:malformed_event"
    assert med.deliver("x" * 400_000).outcome == "rejected:oversized_event"
    assert med.deliver(12).outcome == "rejected:oversized_event"  # type: ignore[arg-type]
