"""End to end over a real in-process relay, real Redis and a real worker: solvers' inboxes
decrypt the `escalation_handoff/v1` DM (manual escalation, the periodic dispatcher, and a
delayed re-dispatch after a failed send). Runs on SQLite and on PostgreSQL."""

import time

import pytest
from click.testing import CliRunner

from serbero import clock
from serbero.cli import cli
from serbero.config import EscalationSection, SolverEntry
from serbero.db.models import AuditEvent, Outbox
from serbero.escalation import dispatch, handoff, manual, package, retry
from serbero.escalation.models import EscalationDispatch, EscalationHandoff
from serbero_workers import escalation as jobs
from tests.escalation.test_commands import write_config

DISPUTE = "7d3f0c6e-2b1a-4e5f-9c8d-0a1b2c3d4e5f"


def body_of(handoff_id):
    return package.dm_body(package.parse(AuditEvent.get_by_id(handoff_id).payload_json),
                           dispatch.manual_request(EscalationHandoff.get_by_id(handoff_id)))


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def open_dispute(driver, mostro):
    """A dispute Mostro opened and both solvers were told about."""
    driver.ingest(mostro.revision(DISPUTE, "initiated", initiator="seller"))
    return DISPUTE


def test_serbero_escalate_reaches_the_write_solver_over_the_relay(
        nostr_loop, open_dispute, runtime, db, worker, solver_ana, solver_bo, serbero_keys,
        tmp_path):
    # Given the configuration the daemon runs with (Ana writes, Bo reads)
    path = write_config(tmp_path / "config.toml", serbero_keys=serbero_keys,
                        solvers=runtime.settings.solvers, enabled=False)
    # When an operator escalates the dispute by hand
    result = CliRunner(env={"SERBERO_DB_URL": db.url}).invoke(
        cli, ["escalate", open_dispute, "--note", "seller unreachable", "-c", str(path)])
    assert result.exit_code == 0, result.output
    handoff_id = EscalationHandoff.get().handoff_event_id
    # Then Ana's client decrypts the exact handoff, sent by Serbero
    [text] = nostr_loop.run(solver_ana.wait_for(1, "escalation_handoff/v1"), 20)
    assert text == body_of(handoff_id)
    assert solver_ana.messages[-1].sender == serbero_keys.public_key().to_hex()
    assert "Session: <none \u2014 dispute-scoped handoff>" in text
    # And the handoff is recorded as delivered, to Ana only
    wait_until(lambda: EscalationHandoff.get_by_id(handoff_id).status == "dispatched")
    assert [o.recipient for o in Outbox.select().where(Outbox.purpose == "handoff_dm")] == \
        [solver_ana.pubkey]
    assert EscalationDispatch.get().target_solver == solver_ana.pubkey
    assert solver_bo.texts("escalation_handoff/v1") == []


def test_the_periodic_dispatcher_delivers_a_prepared_handoff(nostr_loop, open_dispute, runtime,
                                                             driver, solver_ana):
    runtime.settings = runtime.settings.replace(escalation=EscalationSection(enabled=True))
    h = handoff.prepare(open_dispute, trigger="party_unresponsive", now=clock.now(),
                        session_id="3b0e9c6a-1f2d-4c5b-8a7e-6d5c4b3a2f1e").handoff_id
    assert len(driver.tick("escalation", clock.now())) == 1
    [text] = nostr_loop.run(solver_ana.wait_for(1, "escalation_handoff/v1"), 20)
    assert text == body_of(h)
    assert "\nSession: 3b0e9c6a-1f2d-4c5b-8a7e-6d5c4b3a2f1e\n" in text
    assert EscalationHandoff.get_by_id(h).status == "dispatched"


def test_a_failed_send_is_re_dispatched_by_the_delayed_job(nostr_loop, open_dispute, runtime,
                                                          worker, solver_ana, monkeypatch):
    # Given the only write solver's pubkey is mistyped, and retries come after a second
    monkeypatch.setattr(retry, "RETRY_BASE_S", 1)
    runtime.settings = runtime.settings.replace(solvers=(SolverEntry("npub1typo", "write"),))
    escalation = manual.escalate(open_dispute, settings=runtime.settings, operator="olga",
                                 now=clock.now())
    h = escalation.prepared.handoff_id
    # When the dispatch fails, and the operator fixes the configuration meanwhile
    jobs.dispatch_handoff.send(h)
    wait_until(lambda: EscalationHandoff.get_by_id(h).status == "send_failed")
    runtime.settings = runtime.settings.replace(
        solvers=(SolverEntry(solver_ana.pubkey, "write"),))
    # Then the delayed re-dispatch reaches Ana
    [text] = nostr_loop.run(solver_ana.wait_for(1, "escalation_handoff/v1"), 20)
    assert text == body_of(h)
    wait_until(lambda: EscalationHandoff.get_by_id(h).status == "dispatched")
    # (the attempt that lands is the second, or a later one when the machine is so slow that
    # the first re-dispatch ran before the configuration was fixed)
    row = EscalationDispatch.get()
    assert (row.status, row.target_solver) == ("dispatched", solver_ana.pubkey)
    assert row.attempt == EscalationHandoff.get_by_id(h).attempts >= 2
