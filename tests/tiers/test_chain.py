"""The tier chain over a real relay, on SQLite and PostgreSQL, with the clock moved by hand: a
dispute the first tier acknowledges never reaches the second; without an acknowledgement the
chain reminds, climbs, and stops; stale steps are dropped and counted; quiet hours skip a
solver, never everyone; first contact is spread by load."""

from serbero import clock, redis_store
from serbero.db.models import AuditEvent, Dispute, Outbox
from serbero.rejections import KEY
from serbero.tiers import steps
from serbero.tiers.models import NotificationTier
from tests.acks.conftest import settle
from tests.tiers.conftest import quiet_now, solver

D1 = "11111111-2222-4333-8444-555555555555"


def sent(dispute_id=D1):
    """(recipient, notice type) of the dispute's solver notices, in order."""
    return [(o.recipient, o.notice_type) for o in Outbox.select().where(
        (Outbox.dispute == dispute_id) & (Outbox.purpose == "solver_dm")).order_by(Outbox.id)]


def chain(dispute_id=D1):
    return NotificationTier.get_by_id(dispute_id)


def run_step(driver, now, dispute_id=D1, token=None):
    result = steps.step(dispute_id, token or chain(dispute_id).step_token,
                        settings=driver.rt.settings, signer=driver.rt.signer, now=now)
    driver.publish(result.outbox_ids, now)
    return result


def test_a_dispute_the_first_tier_acknowledges_is_never_sent_to_the_second(
        nostr_loop, mostro, tiered, solver_ana, solver_bo, solver_cy):
    driver = tiered(solvers=[solver(solver_ana, "write"), solver(solver_bo), solver(solver_cy)])
    t = clock.now()
    # Given a new dispute: the first tier is Ana, the suggested write solver
    result = driver.ingest(mostro.revision(D1, "initiated"), now=t)
    assert sent() == [(solver_ana.pubkey, "initial")]
    assert [(j.job, j.at) for j in result.later] == [(steps.STEP_JOB, t + 150)]
    stale = chain().step_token
    nostr_loop.run(solver_ana.wait_for(1, D1), 15)
    # When Ana acknowledges within the first tier's wait
    assert driver.reply(nostr_loop, solver_ana, "ack", dispute_id=D1,
                        now=t + 60).outcome == "acknowledged"
    assert (chain().step_token, chain().stopped_reason) == (None, "acknowledged")
    # Then the pending step, the periodic scan and any later time reach nobody else
    assert run_step(driver, t + 150, token=stale).outbox_ids == ()
    assert driver.tick("tiers", t + 3600) == []
    settle(nostr_loop)
    assert solver_bo.messages == [] and solver_cy.messages == []
    assert sent() == [(solver_ana.pubkey, "initial")]


def test_without_an_ack_the_chain_reminds_climbs_and_stops(nostr_loop, mostro, tiered,
                                                           solver_ana, solver_bo, solver_cy):
    driver = tiered(solvers=[solver(solver_ana, "write"), solver(solver_bo), solver(solver_cy)])
    t = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=t)
    # The first tier's second notice, half-way through its wait, is a reminder to Ana alone
    run_step(driver, t + 150)
    assert sent()[1:] == [(solver_ana.pubkey, "tier-reminder")]
    assert chain().next_step_at == t + 300
    # At the end of its wait the second tier, everyone, hears
    run_step(driver, t + 300)
    assert sorted(sent()[2:]) == sorted([(solver_ana.pubkey, "tier-reminder"),
                                         (solver_bo.pubkey, "initial"),
                                         (solver_cy.pubkey, "initial")])
    assert (chain().tier_index, chain().next_step_at) == (1, t + 900)
    for inbox in (solver_bo, solver_cy):
        [text] = nostr_loop.run(inbox.wait_for(1, D1), 15)
        assert text.startswith(f"Dispute {D1} \u00b7 new")
    nostr_loop.run(solver_ana.wait_for(2, "unattended"), 15)
    # After the last tier's wait the chain stops; GAP-9's reminders stay off
    assert run_step(driver, t + 900).outbox_ids == ()
    assert (chain().step_token, chain().stopped_reason) == (None, "exhausted")
    assert Dispute.get_by_id(D1).next_renotify_at is None
    assert [a.payload["tier"] for a in AuditEvent.select().where(
        AuditEvent.kind == "tier_reached")] == [2]


def test_a_stale_or_repeated_step_is_dropped_and_counted(mostro, tiered, solver_ana, solver_bo,
                                                         redis_client):
    driver = tiered(solvers=[solver(solver_ana, "write"), solver(solver_bo)])
    t = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=t)
    token = chain().step_token
    key = redis_store.key(driver.rt.settings.redis_namespace, KEY)
    before = int(redis_client.hget(key, "stale_tier_step") or 0)
    assert run_step(driver, t + 150, token=token).outbox_ids  # the reminder
    # the same message delivered again (dramatiq is at-least-once) does nothing
    assert run_step(driver, t + 151, token=token).outbox_ids == ()
    assert int(redis_client.hget(key, "stale_tier_step")) == before + 1
    assert len(sent()) == 2


def test_a_lost_step_message_is_run_by_the_periodic_scan(mostro, tiered, solver_ana, solver_bo):
    driver = tiered(solvers=[solver(solver_ana, "write"), solver(solver_bo)])
    t = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=t)
    # the delayed message never ran (a flushed Redis): the scan finds the overdue step
    assert driver.tick("tiers", t + 150) == []  # not overdue yet: its own message has time
    assert len(driver.tick("tiers", t + 150 + steps.LATE_S)) == 1
    assert sent()[1:] == [(solver_ana.pubkey, "tier-reminder")]


def test_quiet_solvers_are_skipped_and_an_all_quiet_tier_goes_to_the_next(
        nostr_loop, mostro, tiered, solver_ana, solver_bo, solver_cy):
    t = clock.now()
    tiers = [{"audience": "write", "wait_seconds": 300}, {"audience": "all", "wait_seconds": 300}]
    # Ana, the only write solver, is asleep: the first tier is skipped at once, and the second
    # reaches Bo but not Cy, who is asleep too
    driver = tiered(tiers=tiers, solvers=[solver(solver_ana, "write", quiet_hours=quiet_now(t)),
                                          solver(solver_bo),
                                          solver(solver_cy, quiet_hours=quiet_now(t))])
    driver.ingest(mostro.revision(D1, "initiated"), now=t)
    assert sent() == [(solver_bo.pubkey, "initial")]
    assert chain().tier_index == 1
    skipped = [a.payload for a in AuditEvent.select().where(AuditEvent.kind == "tier_quiet_hours")]
    assert [len(p["skipped"]) for p in skipped] == [1, 2]
    assert [a.payload["reason"] for a in AuditEvent.select().where(
        AuditEvent.kind == "tier_reached")] == ["nobody_awake"]


def test_the_last_tier_is_never_silent_even_if_everyone_is_quiet(
        mostro, tiered, solver_ana, solver_bo):
    t = clock.now()
    driver = tiered(tiers=[{"audience": "write", "wait_seconds": 300},
                           {"audience": "all", "wait_seconds": 300}],
                    solvers=[solver(solver_ana, "write", quiet_hours=quiet_now(t)),
                             solver(solver_bo, quiet_hours=quiet_now(t))])
    driver.ingest(mostro.revision(D1, "initiated"), now=t)
    assert sorted(sent()) == sorted([(solver_ana.pubkey, "initial"),
                                     (solver_bo.pubkey, "initial")])
    last = AuditEvent.select().where(AuditEvent.kind == "tier_quiet_hours").order_by(
        AuditEvent.id.desc()).first()
    assert last.payload["told_anyway"] is True


def test_first_contact_goes_round_robin_by_load_then_least_recently_suggested(
        nostr_loop, mostro, tiered, solver_ana, solver_bo, solver_cy):
    driver = tiered(tiers=[{"audience": "assigned", "wait_seconds": 300}],
                    solvers=[solver(solver_ana, "write"), solver(solver_bo, "write"),
                             solver(solver_cy)])
    t = clock.now()
    ids = [f"{i:08d}-2222-4333-8444-555555555555" for i in range(5)]

    def first_contact(i):
        driver.ingest(mostro.revision(ids[i], "initiated"), now=t + i)
        [(to, _)] = sent(ids[i])
        return to

    ana, bo = solver_ana.pubkey, solver_bo.pubkey
    assert first_contact(0) == ana  # equal load, never suggested: the configuration's order
    assert first_contact(1) == bo  # equal load: the one suggested least recently
    nostr_loop.run(solver_ana.wait_for(1, ids[0]), 15)
    driver.reply(nostr_loop, solver_ana, "ack", dispute_id=ids[0], now=t + 2)
    assert first_contact(2) == bo  # Ana has one open dispute acknowledged, Bo none
    nostr_loop.run(solver_bo.wait_for(2, "new"), 15)
    driver.reply(nostr_loop, solver_bo, "ack", dispute_id=ids[1], now=t + 3)
    driver.reply(nostr_loop, solver_bo, "ack", dispute_id=ids[2], now=t + 4)
    assert first_contact(3) == ana  # now Bo carries two, Ana one
    driver.ingest(mostro.revision(ids[0], "settled"), now=t + 5)  # Ana's dispute closes
    driver.ingest(mostro.revision(ids[3], "in-progress", solver=ana), now=t + 6)
    assert first_contact(4) == ana  # Ana: one taken; Bo: two acknowledged


def test_an_observers_tier_sends_them_the_reminder_and_nothing_before(
        nostr_loop, mostro, tiered, solver_ana, solver_bo, solver_cy):
    driver = tiered(tiers=[{"audience": "all", "wait_seconds": 60},
                           {"audience": "observers", "wait_seconds": 60}],
                    solvers=[solver(solver_ana, "write"), solver(solver_bo)],
                    observers=[solver_cy])
    t = clock.now()
    driver.ingest(mostro.revision(D1, "initiated"), now=t)
    nostr_loop.run(solver_ana.wait_for(1, D1), 15)
    settle(nostr_loop)
    assert solver_cy.messages == []  # with tiers, observers hear only from their tier
    run_step(driver, t + 60)
    [text] = nostr_loop.run(solver_cy.wait_for(1, D1), 15)
    assert text == f"Dispute {D1} \u00b7 unattended (1 min)"


def test_a_webhooks_tier_posts_the_unattended_notice_and_nothing_before(
        nostr_loop, mostro, tiered, solver_ana, solver_bo):
    import json

    from tests.channels.webhook_server import ScriptedWebhook

    server = ScriptedWebhook()
    try:
        driver = tiered(tiers=[{"audience": "all", "wait_seconds": 60},
                               {"audience": "webhooks", "wait_seconds": 60}],
                        solvers=[solver(solver_ana, "write"), solver(solver_bo)],
                        webhooks=[{"url": server.url, "name": "oncall"}])
        t = clock.now()
        driver.ingest(mostro.revision(D1, "initiated"), now=t)
        assert server.seen == []
        run_step(driver, t + 60)
        [seen] = server.seen
        body = json.loads(seen.body)
        assert (body["dispute_id"], body["event"]) == (D1, "unattended")
    finally:
        server.stop()
