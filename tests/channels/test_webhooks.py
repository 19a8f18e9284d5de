"""The webhook channel against a real HTTP server on loopback: each notice once per idempotency
key across retries and a worker restart, signed; a hanging webhook holds no DM back; 4xx and
redirects are final at once; a webhook gets only the subjects it asked for."""

import hashlib
import hmac
import json

import pytest

from serbero import clock, outbox
from serbero.db.models import AuditEvent, Outbox
from serbero.disputes import ingest
from serbero.errors import PublishError
from serbero.followup import NOTIFY, WEBHOOKS
from serbero.outbox.channels import Delivered
from serbero.outbox.webhook import WebhookChannel, classify
from serbero.simulators.mostro_node import MostroNode
from tests.channels.webhook_server import ScriptedWebhook
from tests.conftest import Driver

D = "6a8b0c2d-4e6f-4a1b-9c3d-5e7f9a1b3c5d"
SECRET = "webhook-secret-for-tests-only"


@pytest.fixture
def webhook():
    started = []

    def start(script=(), on_request=None):
        server = ScriptedWebhook(list(script), on_request)
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


def entry(hook, **more):
    return {"url": hook.url, "name": "ops", **more}


def test_each_notice_reaches_the_webhook_once_per_key_across_retries_and_a_restart(
        mostro, make_runtime, webhook):
    # Given a signed webhook that fails its first two requests
    hook = webhook([500, 503])
    config = dict(solvers=[], webhooks=[entry(hook, secret_env="HOOK_SECRET")],
                  env={"HOOK_SECRET": SECRET})
    driver = Driver(make_runtime(**config))
    now = clock.now()
    # When a dispute opens and is taken, and a worker restarts before the retries
    driver.ingest(mostro.revision(D, "initiated"), now=now)
    driver.ingest(mostro.revision(D, "in-progress"), now=now)
    rows = list(Outbox.select().where(Outbox.channel == "webhook").order_by(Outbox.id))
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
    driver.rt.channels["webhook"].close()
    driver.rt.relay.close()
    restarted = Driver(make_runtime(**config))
    assert restarted.tick("outbox", now + 5) == [r.id for r in rows]
    assert restarted.tick("outbox", now + 3600) == []
    # Then the server accepted each notice once, under one key, with the same signed bytes
    assert hook.delivered() == {r.message_id: 1 for r in rows}
    for row in rows:
        attempts = [s for s in hook.seen if s.headers["idempotency-key"] == row.message_id]
        assert len(attempts) == 2 and len({s.body for s in attempts}) == 1
        signature = hmac.new(SECRET.encode(), attempts[0].body, hashlib.sha256).hexdigest()
        assert {s.headers["x-serbero-signature"] for s in attempts} == {f"sha256={signature}"}
    first = json.loads(hook.seen[0].body)
    assert first == {"idempotency_key": rows[0].message_id, "dispute_id": D, "event": "new",
                     "subject": "new", "text": first["text"], "lifecycle_state": "new",
                     "occurred_at": now}
    assert first["text"].startswith(f"Dispute {D} \u00b7 new\nNew Mostro dispute")
    assert json.loads(hook.seen[1].body)["subject"] == "taken"


def test_a_hanging_webhook_holds_no_dm_back(mostro, make_runtime, webhook, solver_ana):
    # Given a webhook that answers only after its timeout, and a solver
    seen_dm_status = []

    def while_the_webhook_hangs():
        seen_dm_status.append(Outbox.get(Outbox.purpose == "solver_dm").status)
    hook = webhook([("sleep", 2)], on_request=while_the_webhook_hangs)
    rt = make_runtime(solvers=[solver_ana], webhooks=[entry(hook, timeout_seconds=0.3)])
    # When a dispute opens, its DM and its webhook notice go out in one batch
    result = ingest.ingest(mostro.revision(D, "initiated").as_json(), settings=rt.settings,
                           signer=rt.signer, now=clock.now())
    # Then the webhook's row travels on a lane of its own, never inline with the DMs
    assert sorted(p.lane for p in result.publish) == [NOTIFY, WEBHOOKS]
    published = outbox.publish_many(list(reversed(result.outbox_ids)), channels=rt.channels,
                                    settings=rt.settings, now=clock.now())
    # and the DM was recorded sent before the webhook was even called; the timeout is retried
    assert seen_dm_status == ["sent"]
    assert sorted(published.statuses) == ["pending", "sent"]
    row = Outbox.get(Outbox.channel == "webhook")
    assert row.status == "pending" and "timed out" in row.last_error


@pytest.mark.parametrize("answer", [404, ("redirect", "/hook")], ids=["404", "redirect"])
def test_a_refusing_or_redirecting_webhook_is_given_up_at_once(db, make_settings, serbero_keys,
                                                               webhook, answer):
    hook = webhook([answer, answer])
    node = MostroNode()
    settings = make_settings(mostro=node.pubkey, webhooks=[entry(hook)])
    now = clock.now()
    result = ingest.ingest(node.revision(D, "initiated").as_json(), settings=settings,
                           signer=serbero_keys, now=now)
    channels = {"webhook": WebhookChannel(lambda: settings.webhooks)}
    assert outbox.publish_many(result.outbox_ids, channels=channels, settings=settings,
                               now=now).statuses == ("failed",)
    assert outbox.claim_due(now + 86_400).publish == ()
    assert len(hook.seen) == 1  # no redirect followed, nothing retried
    [failure] = AuditEvent.select().where(AuditEvent.kind == "webhook_notice_failed")
    assert failure.payload["recipient"] == "ops" and hook.url not in failure.payload_json


@pytest.mark.parametrize(("status", "permanent"), [
    (500, False), (503, False), (408, False), (429, False), (400, True), (401, True),
    (404, True), (410, True), (301, True), (302, True), (307, True)])
def test_each_http_answer_says_whether_a_retry_can_help(status, permanent):
    outcome = classify(status, "ops")
    assert isinstance(outcome, PublishError) and outcome.permanent is permanent
    assert classify(204, "ops") == Delivered(("ops",))


def test_a_webhook_gets_only_the_subjects_it_asked_for(db, make_settings, serbero_keys):
    node = MostroNode()
    settings = make_settings(mostro=node.pubkey,
                             webhooks=[{"url": "https://hooks.example/x", "events": ["taken"]}])
    for status in ("initiated", "in-progress"):
        ingest.ingest(node.revision(D, status).as_json(), settings=settings,
                      signer=serbero_keys, now=clock.now())
    assert [(r.recipient, r.notice_type) for r in Outbox.select()] == [("webhook-1",
                                                                         "assignment")]
