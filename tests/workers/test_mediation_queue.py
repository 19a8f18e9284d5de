"""Model calls run on the `mediation` queue only (issue 7 item 9): its actors, their time limits,
and the background health check's tick routed there rather than to `ticks`."""

from __future__ import annotations

from serbero import ticks
from serbero.ops import queues
from serbero.reasoning.limits import MEDIATION_JOB_LIMIT_S, provider_budget_s


def test_mediation_actors_are_on_their_queue_with_limits_that_fit_the_chain(broker):
    from serbero_workers import actors, mediation

    for actor in (mediation.run_mediation_tick, mediation.run_reasoning_check):
        assert actor.queue_name == "mediation"
    assert mediation.run_mediation_tick.options["time_limit"] >= MEDIATION_JOB_LIMIT_S * 1000
    assert mediation.run_reasoning_check.options["time_limit"] >= 2 * MEDIATION_JOB_LIMIT_S * 1000
    # the default chain (30 s, one retry) fits with room for three more providers
    assert 4 * provider_budget_s(30, 2) <= MEDIATION_JOB_LIMIT_S
    assert {a.queue_name for a in (actors.ingest_dispute_event, actors.publish_outbox_row)} \
        == {"events", "notify"}


def test_the_health_tick_is_enqueued_on_mediation_not_ticks(broker, make_settings):
    from serbero_workers import wiring

    assert ticks.queue("reasoning_health") == ticks.MEDIATION
    assert ticks.periods(make_settings())["reasoning_health"] == 120
    wiring.fire_tick("reasoning_health", 7)
    wiring.fire_tick("outbox", 7)
    depth = {q.name: q.ready for q in queues.depths(broker.client, broker.namespace,
                                                    ["mediation", "ticks"])}
    assert depth == {"mediation": 1, "ticks": 1}


def test_sessions_run_on_mediation_and_chat_ingest_on_events_with_no_model_call(broker):
    # Issue 12: every mediation job is on `mediation`; a party's message is ingested on
    # `events` (it arms the evaluation, which runs on `mediation`)
    from serbero.mediation import subscriptions
    from serbero_workers import actors, mediation, wiring

    for actor in (mediation.start_mediation, mediation.mediation_timer,
                  mediation.mediation_hand_off):
        assert actor.queue_name == "mediation"
    assert mediation.start_mediation.options["time_limit"] >= MEDIATION_JOB_LIMIT_S * 1000
    assert actors.ingest_chat_event.queue_name == "events"
    assert subscriptions.TARGET in wiring.EVENT_TARGETS
    assert ticks.queue("mediation") == ticks.MEDIATION
