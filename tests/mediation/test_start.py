"""Starting mediation (spec §5.5-§5.7, §11.2): the opening classification runs before any take;
a dispute is mediated at most once (GAP-10) and never once a person took it (GAP-21); a node
that trusts another Serbero key gets no take; what keeps a start back is written once; a
pre-take escalation goes through the handoff writer and reaches the write solvers as
`mediation could not start`; the take's answer opens the session or ends it."""

import threading

from serbero.db.models import AuditEvent
from serbero.escalation.models import EscalationHandoff
from serbero.mediation import sessions, start
from serbero.mediation.models import MediationSession
from serbero.mostro import info
from serbero.mostro.models import TakeRequest
from serbero.reasoning.models import ProviderHealth
from serbero.simulators.model import CLASSIFY, Fail, classification
from tests.mediation.harness import Party

ASK = classification("ask_clarification", buyer="When did you send the payment?",
                     seller="Has the payment reached your account?")


def kinds(dispute_id):
    return [a.kind for a in AuditEvent.select().where(AuditEvent.dispute_id == dispute_id)
            .order_by(AuditEvent.id)]


def test_a_new_dispute_is_classified_before_anything_is_taken(med, scripts, model):
    # Given mediation on and a model that wants to ask both parties
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    # When the dispute's start job runs (enqueued by the dispute's ingest)
    assert [j.args for j in med.jobs("start_mediation")] == [(dispute,)]
    med.run_due()
    # Then the opening classification came first, on an empty transcript, and then the take
    [asked] = model.calls(CLASSIFY)
    assert asked.dispute_id == dispute and asked.transcript == ()
    session = med.session(dispute)
    assert session.state == sessions.TAKING and session.started_by == "detected"
    assert session.opening_buyer_text == "When did you send the payment?"
    assert TakeRequest.get(TakeRequest.dispute_id == dispute).status == "pending"
    order = kinds(dispute)
    assert order.index("start_attempt_started") < order.index("classification_produced") \
        < order.index("reasoning_verdict") < order.index("mediation_transition") \
        < order.index("take_requested")


def test_a_flagged_opening_hands_the_dispute_over_without_a_take(med, scripts, ana, bo):
    # Given a model that sees fraud signals in the opening
    dispute = med.open_dispute()
    scripts.on(dispute, classification("ask_clarification", buyer="?", seller="?",
                                       flags=("fraud_risk",)))
    # When the start job and the handoff's dispatch run
    med.run_due()
    # Then no take was ever asked for, and the write solver got one handoff DM
    assert not TakeRequest.select().where(TakeRequest.dispute_id == dispute).exists()
    assert med.session(dispute).state == sessions.ESCALATED
    handoff = EscalationHandoff.get(EscalationHandoff.dispute_id == dispute)
    assert handoff.session_id is None and handoff.trigger == "fraud_indicator"
    assert med.subjects(ana) == ["new", "mediation could not start: fraud_indicator"]
    assert med.subjects(bo) == ["new"]
    text = med.solver(ana)[1]
    assert "escalation_handoff/v1" in text and "Session: <none" in text
    assert med.lifecycle(dispute) == "escalated"


def test_a_model_that_is_down_hands_the_dispute_over_and_never_stores_its_error(
        med, scripts, ana):
    dispute = med.open_dispute()
    scripts.on(dispute, Fail(503))
    med.run_due()
    assert med.session(dispute).state == sessions.ESCALATED
    failed = AuditEvent.get(AuditEvent.kind == "reasoning_call_failed")
    assert failed.payload["error_category"] and "scripted failure" not in failed.payload_json
    assert med.subjects(ana)[-1] == "mediation could not start: reasoning_unavailable"
    assert not TakeRequest.select().exists()


def test_a_question_too_long_for_a_phone_is_invalid_output(med, scripts):
    dispute = med.open_dispute()
    scripts.on(dispute, classification("ask_clarification", buyer="Why? " * 80, seller="When?"))
    med.run_due()
    assert EscalationHandoff.get().trigger == "invalid_model_output"


def test_a_dispute_is_mediated_once_whatever_became_of_it(med, scripts, clock):
    # Given a dispute whose mediation already ended (GAP-10)
    dispute = med.open_dispute()
    scripts.on(dispute, classification("escalate", confidence=0.9))
    med.run_due()
    assert med.session(dispute).state == sessions.ESCALATED
    calls = len(scripts.by_dispute[dispute])
    # When the start is asked again, and the periodic scan looks for candidates
    outcome = start.start(dispute, settings=med.rt.settings, signer=med.rt.signer,
                          reasoning=None, now=clock())
    # Then nothing starts, the reason is written once, and the model is not asked again
    assert outcome.outcome.startswith("stopped:")
    assert start.candidates(clock()) == []
    assert len(scripts.by_dispute[dispute]) == calls
    assert MediationSession.select().count() == 1


def test_a_dispute_a_person_took_is_not_mediated(med, scripts, model):
    # Given a dispute a solver took before the start job ran (GAP-21)
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    med.revision(dispute, "in-progress")
    # When the start job runs
    med.run_due()
    # Then there is no session and no model call, and the stop says why
    assert not MediationSession.select().exists() and model.calls(CLASSIFY) == []
    stop = AuditEvent.get(AuditEvent.kind == "start_attempt_stopped")
    assert stop.payload["stop_reason"] in ("lifecycle_taken", "mostro_status_in-progress")


def test_no_take_on_a_node_that_trusts_another_serbero_key(med, scripts, model, clock):
    # Given the node announces another Serbero key
    info.record(info.NodeInfo(node_pubkey=med.rt.settings.mostro_pubkey, event_id="2" * 64,
                              created_at=clock(), protocol_version=2, pow=0,
                              pow_first_contact=0, mostro_version="0.19.2",
                              serbero_tag="ab" * 32), now=clock())
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    # When the start job runs, and again from the tick
    med.run_due()
    med.tick()
    med.run_due()
    # Then nothing is classified or taken, and the reason is recorded once
    assert model.calls(CLASSIFY) == [] and not TakeRequest.select().exists()
    stops = [a.payload["stop_reason"] for a in
             AuditEvent.select().where(AuditEvent.kind == "start_attempt_stopped")]
    assert stops == ["cannot_take_foreign_serbero_key"]


def test_an_unhealthy_provider_defers_the_start_until_it_recovers(med, scripts, model, clock):
    # Given every provider's fresh health says it fails
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    ProviderHealth.insert(provider_key=_key(med),
                          provider="openai-compatible", model="scripted", status="unreachable",
                          checked_at=clock(), consecutive_failures=3).execute()
    # When the start job runs
    med.run_due()
    # Then it waits (no session, no call), explained once
    assert not MediationSession.select().exists() and model.calls(CLASSIFY) == []
    assert AuditEvent.get(AuditEvent.kind == "start_attempt_stopped") \
        .payload["stop_reason"] == "reasoning_unhealthy"
    # and once the provider answers again, the periodic scan starts it
    ProviderHealth.update(status="ok").execute()
    med.tick()
    assert [j.args for j in med.jobs("start_mediation")] == [(dispute, "tick_retry")]
    med.run_due()
    assert med.session(dispute).started_by == "tick_retry"


def _key(med):
    from serbero.reasoning.spec import chain_specs

    return chain_specs(med.rt.settings.reasoning)[0].key


def test_two_workers_starting_one_dispute_make_one_session_and_one_call(
        med, scripts, model, backend):
    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    outcomes = []

    def run():
        outcomes.append(start.start(dispute, settings=med.rt.settings, signer=med.rt.signer,
                                    reasoning=_reasoning(med), now=med.clock()).outcome)
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the loser finds the dispute claimed: at its eligibility check, or at its own claim
    assert sorted(outcomes)[1] == "taking"
    assert sorted(outcomes)[0] in ("already_started", "stopped:mediated_before_opening")
    assert MediationSession.select().count() == 1 and len(model.calls(CLASSIFY)) == 1
    assert TakeRequest.select().count() == 1


def _reasoning(med):
    from serbero.reasoning import setup

    return setup.current(med.rt.settings)


def test_a_take_refused_ends_the_session_and_an_unauthorised_one_goes_to_a_person(
        med, scripts):
    first, second = med.open_dispute(), med.open_dispute()
    scripts.on(first, ASK)
    scripts.on(second, ASK)
    med.run_due()
    med.refused(first, "not_found")
    med.refused(second, "not_authorized")
    med.run_due()
    assert med.session(first).state == sessions.FAILED
    assert med.session(first).end_reason == "take_refused:not_found"
    assert med.session(second).state == sessions.ESCALATED
    assert EscalationHandoff.get(EscalationHandoff.dispute_id == second).trigger \
        == "authorization_lost"


def test_a_take_nobody_answered_goes_to_a_person(med, scripts, clock):
    from serbero.mostro import take_timeouts

    dispute = med.open_dispute()
    scripts.on(dispute, ASK)
    med.run_due()
    # When the take times out (Mostro may have assigned it silently, issue 812)
    take_timeouts.expire_due(clock.advance(60))
    med.tick()
    med.run_due()
    assert med.session(dispute).end_reason == "take_unanswered"
    assert EscalationHandoff.get().trigger == "take_unanswered"


def test_a_take_reply_for_another_dispute_opens_nothing(med, scripts):
    dispute, other = med.open_dispute(), med.open_dispute()
    scripts.on(dispute, ASK)
    scripts.on(other, Fail(503))
    med.run_due()
    request = TakeRequest.get(TakeRequest.dispute_id == dispute)
    # a reply echoing this request's id but naming another dispute (stale traffic, GAP-30)
    buyer = Party("buyer", med.rt.settings.serbero_pubkey)
    seller = Party("seller", med.rt.settings.serbero_pubkey)
    from serbero.mostro.messages import MostroMessage
    med.reply(MostroMessage(wrapper="dispute", action="admin-took-dispute", id=other,
                            request_id=request.request_id,
                            payload={"dispute": [other, _info(buyer, seller)]}))
    assert med.session(dispute).state == sessions.TAKING
    assert TakeRequest.get_by_id(request.id).status == "pending"


def _info(buyer, seller):
    return {"id": "11111111-2222-4333-8444-555555555555", "kind": "sell", "status": "dispute",
            "hash": None, "preimage": None, "order_previous_status": "fiat-sent",
            "initiator_pubkey": buyer.pubkey, "buyer_pubkey": buyer.pubkey,
            "seller_pubkey": seller.pubkey, "initiator_full_privacy": True,
            "counterpart_full_privacy": True, "initiator_info": None, "counterpart_info": None,
            "premium": 0, "payment_method": "sepa", "amount": 1000, "fiat_amount": 10, "fee": 3,
            "routing_fee": 0, "buyer_invoice": None, "invoice_held_at": 0, "taken_at": 0,
            "created_at": 0}
