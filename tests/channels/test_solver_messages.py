"""Solver messages over the real relay, read by clients written from the wire facts: every
notice in the Mostro v2 form (as Mostrix files it under its dispute, with the take-over banner
on a handoff), the original's NIP-17 texts for a solver who asked for them, observers' first
lines, and a v2 message to a key no client reads."""

import json

from nostr_sdk import Event, Keys

from serbero import clock
from serbero.db.models import AuditEvent, Outbox
from serbero.errors import PublishError
from serbero.escalation import dispatch, manual, package
from serbero.simulators.mostro_node import dispute_event
from tests.channels.mostrix import parse
from tests.conftest import Driver

D = "5e7f2a1c-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
MESSAGE_FIELDS = ["version", "request_id", "trade_index", "id", "action", "payload"]


NOTE = "buyer sent the bank receipt"


def escalate(driver, dispute_id):
    """An operator's manual escalation, dispatched at once: the handoff DMs in the outbox."""
    rt = driver.rt
    prepared = manual.escalate(dispute_id, settings=rt.settings, operator="olga",
                               now=clock.now(), note=NOTE).prepared
    out = dispatch.dispatch_one(prepared.handoff_id, settings=rt.settings, signer=rt.signer,
                                now=clock.now())
    driver.publish(out.outbox_ids)
    return prepared.handoff_id


def test_a_mostrix_solver_files_every_message_under_its_dispute(nostr_loop, mostro,
                                                                 make_runtime, mostrix):
    # Given a solver on Mostrix, with Serbero among its trusted DM senders
    ana = mostrix()
    driver = Driver(make_runtime(solvers=[ana], timeouts={"renotification_seconds": 1}))
    now = clock.now()
    # When a dispute opened three minutes ago is detected, reminded, taken, taken over,
    # handed off by an operator and resolved
    driver.ingest(dispute_event(mostro.keys, D, "initiated", created_at=now - 180), now=now)
    driver.tick("renotify", now + 1)
    driver.ingest(mostro.revision(D, "in-progress"))
    driver.ingest(mostro.revision(D, "in-progress"))
    handoff_id = escalate(driver, D)
    driver.ingest(mostro.revision(D, "settled"))
    dms = nostr_loop.run(ana.wait_for(6), 15)
    # Then each is a v2 send-dm from Serbero, linked to the dispute by the message's id
    by_subject = {dm.subject: dm for dm in dms}
    assert sorted(by_subject) == ["handed off: manual", "new", "resolved: settled", "taken",
                                  "unattended (3 min)"]
    for dm in dms:
        assert dm.sender == driver.rt.signer.public_key().to_hex() and dm.dispute_id == D
        assert list(dm.message) == MESSAGE_FIELDS and dm.content[1:] == [None, None]
        assert (dm.message["version"], dm.message["request_id"], dm.message["trade_index"],
                dm.message["action"]) == (2, None, None, "send-dm")
        assert dm.text.split("\n")[0] == f"Dispute {D} \u00b7 {dm.subject}"
        assert dm.needs_action == dm.subject.startswith("handed off")
    # and below the first line the original's lines, so whatever parsed them still finds them
    assert by_subject["new"].text.split("\n")[1:] == [
        "New Mostro dispute requires attention.", f"dispute_id: {D}", "initiator: buyer",
        f"event_timestamp: {now - 180}", "status: initiated"]
    assert f"time_elapsed_seconds: {181}" in by_subject["unattended (3 min)"].text
    taken = [dm.text for dm in dms if dm.subject == "taken"]
    assert len(taken) == 2 and sum("has been taken over" in t for t in taken) == 1
    assert all("lifecycle_state: taken" in t for t in taken)
    assert by_subject["resolved: settled"].text.endswith("status: settled\n"
                                                        "lifecycle_state: resolved")
    # and the handoff carries its whole escalation_handoff/v1 body, which says it was escalated
    # by hand, by whom, and shows the note (issue 10, operator item 9)
    body = package.dm_body(package.parse(AuditEvent.get_by_id(handoff_id).payload_json),
                           package.ManualRequest(operator="olga", note=NOTE))
    handed_off = by_subject["handed off: manual"].text
    assert handed_off == f"Dispute {D} \u00b7 handed off: manual\n{body}"
    assert "An operator escalated this dispute by hand (`serbero escalate`, by olga)" in handed_off
    assert f'Operator\'s note: "{NOTE}"' in handed_off.split("\n")
    # Mostrix ignores them all from a sender it does not trust
    row = Outbox.get(Outbox.purpose == "solver_dm")
    assert parse(Event.from_json(row.body), ana.keys, [Keys.generate().public_key().to_hex()]) \
        is None


def test_a_solver_may_keep_the_original_nip17_texts(nostr_loop, mostro, make_runtime, mostrix,
                                                    solver_bo):
    # Given Ana on Mostrix (the default form) and Bo, who reads DMs in a general Nostr client
    ana = mostrix()
    driver = Driver(make_runtime(solvers=[
        ana, {"pubkey": solver_bo.pubkey, "format": "nip17-original"}]))
    # When a dispute opens
    event = mostro.revision(D, "initiated", initiator="seller")
    driver.ingest(event)
    # Then Ana's client files a v2 message, and Bo decrypts the original's text byte for byte
    [dm] = nostr_loop.run(ana.wait_for(1), 10)
    assert dm.subject == "new" and dm.dispute_id == D
    [text] = nostr_loop.run(solver_bo.wait_for(1, D), 10)
    assert text == ("New Mostro dispute requires attention.\n"
                    f"dispute_id: {D}\n"
                    "initiator: seller\n"
                    f"event_timestamp: {event.created_at().as_secs()}\n"
                    "status: initiated")
    assert [m.form for m in solver_bo.messages] == ["nip17"]
    kinds = {row.recipient: json.loads(row.body)["kind"] for row in Outbox.select()}
    assert kinds == {ana.pubkey: 14, solver_bo.pubkey: 1059}


def test_observers_get_the_first_line_of_each_message_only(nostr_loop, mostro, make_runtime,
                                                           mostrix, solver_ana):
    # Given a watchdog configured as an observer, and an observer key that does not parse
    watchdog = mostrix()
    driver = Driver(make_runtime(solvers=[solver_ana], observers=[watchdog, "npub1broken"]))
    # When a dispute opens and is handed off
    driver.ingest(mostro.revision(D, "initiated"))
    escalate(driver, D)
    # Then the watchdog reads two one-line v2 messages, and no solver's lines below them
    dms = nostr_loop.run(watchdog.wait_for(2), 15)
    assert sorted(dm.text for dm in dms) == [f"Dispute {D} \u00b7 handed off: manual",
                                             f"Dispute {D} \u00b7 new"]
    assert all(dm.dispute_id == D for dm in dms)
    assert any(dm.needs_action for dm in dms)
    # and the broken observer key is recorded for each message, blocking nobody
    failed = [e.payload for e in AuditEvent.select().where(AuditEvent.kind == "notice_not_sent")]
    assert [(f["role"], f["reason"]) for f in failed] == [("observer", "invalid pubkey")] * 2
    assert nostr_loop.run(solver_ana.wait_for(2, D), 10)


def test_a_v2_message_to_a_key_no_client_reads_is_recorded_and_retried(nostr_loop, mostro,
                                                                        make_runtime, mostrix,
                                                                        mocker):
    # Given a solver whose key no relay has seen, and relays that time out once
    cy = Keys.generate()
    driver = Driver(make_runtime(solvers=[cy.public_key().to_hex()]))
    real = driver.rt.relay.publish_many
    fault = mocker.patch.object(driver.rt.relay, "publish_many",
                                return_value=[PublishError("timeout", permanent=False)])
    now = clock.now()
    driver.ingest(mostro.revision(D, "initiated"), now=now)
    [row] = Outbox.select()
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + 5)
    # When the outbox tick retries it
    fault.side_effect = real
    assert driver.tick("outbox", now + 5) == [row.id]
    assert Outbox.get_by_id(row.id).status == "sent"
    # Then a client that comes online later finds the very same event on the relay
    [dm] = nostr_loop.run(mostrix(cy).wait_for(1), 10)
    assert (dm.event_id, dm.subject, dm.dispute_id) == (row.message_id, "new", D)
