"""The web view's two forms over HTTP: escalation (the very path of `serbero escalate`) and
requeueing a notice that gave up, each refused without the page's CSRF token, with another's,
or from another site; and a dispute's page, whose party text shows only when asked for."""

import re
from base64 import b64encode
from urllib.parse import urlencode

import pytest

from serbero.db.models import AuditEvent, Notification, Outbox
from serbero.escalation.models import EscalationHandoff
from serbero.mediation.models import MediationMessage, MediationSession, MediationSummary
from tests.ops.conftest import TOKEN, http


def open_page(url, dispute_id, **headers):
    """The dispute's page and the CSRF cookie and token its forms carry."""
    page = http(f"{url}/web/disputes/{dispute_id}", token=TOKEN, headers=headers)
    assert page.status == 200
    [cookie] = [c.split(";")[0] for c in page.cookies if c.startswith("serbero_csrf=")]
    token = cookie.split("=", 1)[1]
    assert set(re.findall(r'name="csrf" value="([^"]*)"', page.body)) <= {token}
    return page, cookie, token


def post(url, path, cookie, fields, **headers):
    """A form post with the bearer token, or with the basic-auth `headers` given."""
    return http(url + path, token=None if "Authorization" in headers else TOKEN,
                data=urlencode(fields).encode(), headers={"Cookie": cookie, **headers})


@pytest.fixture
def open_dispute(seeded):
    """A seeded dispute nobody has escalated yet and that is not resolved."""
    from serbero.db.models import Dispute

    done = {h.dispute_id for h in EscalationHandoff.select()}
    return next(i for i in seeded if i not in done
                and Dispute.get_by_id(i).lifecycle_state == "notified")


def handoffs(dispute_id):
    return list(EscalationHandoff.select().where(EscalationHandoff.dispute_id == dispute_id))


def test_the_escalate_form_escalates_by_hand_once(open_dispute, web_url):
    _, cookie, token = open_page(web_url, open_dispute)
    done = post(web_url, f"/web/disputes/{open_dispute}/escalate", cookie,
                {"csrf": token, "note": "buyer sent proof"},
                Authorization="Basic " + b64encode(f"ops:{TOKEN}".encode()).decode())
    assert done.status == 303
    assert done.headers["location"] == f"/web/disputes/{open_dispute}?done=escalated"
    [handoff] = handoffs(open_dispute)
    assert (handoff.trigger, handoff.requested_by) == ("manual", "web:ops")
    shown = http(web_url + done.headers["location"], token=TOKEN)
    assert "Escalated: a handoff was prepared" in shown.body
    assert f"handoff #{handoff.handoff_event_id} (manual)" in shown.body
    # a second press writes nothing (as `serbero escalate` without --again)
    again = post(web_url, f"/web/disputes/{open_dispute}/escalate", cookie, {"csrf": token})
    assert again.headers["location"].endswith("?done=already_escalated")
    assert len(handoffs(open_dispute)) == 1


@pytest.mark.parametrize("forgery", ["no cookie", "no field", "other token", "bad shape",
                                     "other site", "null origin", "cross-site fetch"])
def test_a_form_without_the_pages_csrf_token_changes_nothing(open_dispute, web_url, forgery):
    _, cookie, token = open_page(web_url, open_dispute)
    fields, headers = {"csrf": token}, {"Cookie": cookie}
    if forgery == "no cookie":
        headers = {}
    elif forgery == "no field":
        fields = {}
    elif forgery == "other token":
        fields = {"csrf": "0" * 64}
    elif forgery == "bad shape":
        headers, fields = {"Cookie": "serbero_csrf=x"}, {"csrf": "x"}
    elif forgery == "other site":
        headers["Origin"] = "https://evil.example"
    elif forgery == "null origin":
        headers["Origin"] = "null"
    else:
        headers.update({"Sec-Fetch-Site": "cross-site", "Origin": web_url})
    refused = http(f"{web_url}/web/disputes/{open_dispute}/escalate", token=TOKEN,
                   data=urlencode(fields).encode(), headers=headers)
    assert refused.status == 403
    assert "CSRF token does not match" in refused.body
    assert handoffs(open_dispute) == []


def test_a_refused_escalation_says_why(seeded, web_url):
    from serbero.db.models import Dispute

    resolved = next(i for i in seeded if Dispute.get_by_id(i).lifecycle_state == "resolved")
    page, cookie, token = open_page(web_url, resolved)
    assert 'id="escalate"' not in page.body  # no form for a resolved dispute
    refused = post(web_url, f"/web/disputes/{resolved}/escalate", cookie, {"csrf": token})
    assert refused.status == 409 and "already resolved" in refused.body
    unknown = post(web_url, "/web/disputes/nope/escalate", cookie, {"csrf": token})
    assert unknown.status == 404
    too_long = post(web_url, f"/web/disputes/{seeded[0]}/escalate", cookie,
                    {"csrf": token, "note": "x" * 2001})
    assert too_long.status == 409 and "keep it under 2000" in too_long.body


def test_a_failed_notice_is_requeued_from_its_dispute_page(seeded, web_url):
    row = Outbox.get(Outbox.status == "failed")
    page, cookie, token = open_page(web_url, row.dispute_id)
    assert f'action="/web/outbox/{row.id}/requeue"' in page.body
    sent = Outbox.get((Outbox.status == "sent") & (Outbox.dispute == row.dispute_id))
    assert f'action="/web/outbox/{sent.id}/requeue"' not in page.body
    forged = post(web_url, f"/web/outbox/{row.id}/requeue", cookie, {"csrf": "1" * 64})
    assert forged.status == 403 and Outbox.get_by_id(row.id).status == "failed"
    done = post(web_url, f"/web/outbox/{row.id}/requeue", cookie,
                {"csrf": token, "dispute": row.dispute_id})
    assert done.status == 303 and done.headers["location"].endswith("?done=requeued")
    assert Outbox.get_by_id(row.id).status == "pending"
    assert Notification.get(Notification.outbox == row.id).status == "pending"
    assert AuditEvent.select().where(AuditEvent.kind == "notice_requeued").count() == 1
    twice = post(web_url, f"/web/outbox/{row.id}/requeue", cookie,
                 {"csrf": token, "dispute": row.dispute_id})
    assert twice.status == 409 and "not failed" in twice.body
    assert post(web_url, "/web/outbox/999999999/requeue", cookie,
                {"csrf": token}).status == 404


def test_the_parties_text_shows_only_when_asked_and_rationale_text_never(seeded, web_url):
    # Given a mediated dispute with a hostile chat message, a summary and a verdict's rationale
    session = MediationSession.get()
    message = MediationMessage.get(MediationMessage.session_id == session.session_id)
    summary = MediationSummary.create(
        session_id=session.session_id, dispute_id=session.dispute_id, classification="x",
        confidence=0.5, suggested_next_step="ask", summary_text="the seller never looked",
        prompt_bundle_id="b", policy_hash="h", generated_at=session.started_at + 60)
    MediationMessage.update(content="<img src=x onerror=alert(1)> my IBAN").where(
        MediationMessage.id == message.id).execute()
    AuditEvent.create(kind="reasoning_verdict", dispute_id=session.dispute_id,
                      payload_json='{"rationale": "SECRET REASONING", "decision": "ask"}',
                      rationale_id="r-1", occurred_at=session.started_at)
    hidden = http(f"{web_url}/web/disputes/{session.dispute_id}", token=TOKEN).body
    assert "my IBAN" not in hidden and summary.summary_text not in hidden
    assert "message from buyer" in hidden or "message to buyer" in hidden
    assert "decision=ask" in hidden
    shown = http(f"{web_url}/web/disputes/{session.dispute_id}?party_text=1", token=TOKEN).body
    assert "&lt;img src=x onerror=alert(1)&gt; my IBAN" in shown and "<img src=x" not in shown
    assert summary.summary_text in shown
    for body in (hidden, shown):
        assert "SECRET REASONING" not in body
