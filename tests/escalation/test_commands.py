"""`serbero escalate` and `serbero escalations list` through click: output, exact error lines,
exit codes, and that refused input writes nothing and enqueues nothing."""

import dramatiq
import pytest
from click.testing import CliRunner

from serbero.cli import cli
from serbero.db.models import AuditEvent, Dispute
from serbero.escalation.models import EscalationHandoff


def write_config(path, *, serbero_keys, solvers, enabled=True, fallback=False):
    entries = "".join(f'[[solvers]]\npubkey = "{s.pubkey}"\npermission = "{s.permission}"\n'
                      for s in solvers)
    path.write_text(
        f'[serbero]\nprivate_key = "{serbero_keys.secret_key().to_hex()}"\n'
        f'[mostro]\npubkey = "{"a" * 64}"\n[[relays]]\nurl = "ws://127.0.0.1:9"\n{entries}'
        f"[escalation]\nenabled = {str(enabled).lower()}\n"
        f"fallback_to_all_solvers = {str(fallback).lower()}\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def escalate(tmp_path, backend, db, broker, serbero_keys, ana, bo):
    """`escalate(*args, solvers=…)`: run the CLI on the test database (SQLite, PostgreSQL)."""
    def invoke(*args, solvers=None, group="escalate", env=()):
        path = write_config(tmp_path / "config.toml", serbero_keys=serbero_keys,
                            solvers=solvers if solvers is not None else [ana.write(), bo.read()])
        runner = CliRunner(env={"SERBERO_DB_URL": db.url, **dict(env)})
        return runner.invoke(cli, [*group.split(), *args, "-c", str(path)])
    return invoke


def queued(broker):
    """Messages waiting on the escalation queue, as (actor, args)."""
    raw = broker.client.hvals(f"{broker.namespace}:escalation.msgs")
    return [(m.actor_name, tuple(m.args)) for m in map(dramatiq.Message.decode, raw)]


def written():
    return AuditEvent.select().count(), EscalationHandoff.select().count()


def test_escalate_prints_the_handoff_and_its_recipients_and_enqueues_it(make_dispute, escalate,
                                                                        broker, ana):
    d = make_dispute()
    result = escalate(d.dispute_id, "--note", "proof attached", "--operator", "olga")
    assert result.exit_code == 0, result.output
    handoff_id = EscalationHandoff.get().handoff_event_id
    assert result.stdout.splitlines() == [
        f"handoff {handoff_id} prepared for dispute {d.dispute_id} (trigger manual)",
        "recipients (broadcast):",
        f"  {ana.pubkey}",
        "dispatch enqueued on the escalation queue."]
    assert queued(broker) == [("dispatch_handoff", (handoff_id,))]
    assert AuditEvent.get(AuditEvent.kind == "escalation_recommended").payload["note"] == \
        "proof attached"


def test_escalating_twice_sends_once_unless_again(make_dispute, escalate, broker):
    d = make_dispute()
    assert escalate(d.dispute_id).exit_code == 0
    first = EscalationHandoff.get().handoff_event_id
    before = written()
    repeat = escalate(d.dispute_id)
    assert repeat.exit_code == 0
    assert repeat.stdout.strip() == (
        f"already escalated: dispute {d.dispute_id} has handoff {first} (pending); nothing new "
        "was written or sent. Use --again to send another.")
    assert written() == before and len(queued(broker)) == 1
    again = escalate(d.dispute_id, "--again")
    assert again.exit_code == 0 and "prepared for dispute" in again.stdout
    assert EscalationHandoff.select().count() == 2 and len(queued(broker)) == 2


def test_an_unknown_dispute_is_a_clear_error_and_writes_nothing(escalate, broker):
    result = escalate("nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == \
        "Error: no dispute with id 'nope'; `serbero disputes list` shows them."
    assert written() == (0, 0) and queued(broker) == []


def test_a_malformed_to_pubkey_is_a_usage_error_and_writes_nothing(make_dispute, escalate,
                                                                   broker):
    d = make_dispute()
    result = escalate(d.dispute_id, "--to", "npub1nope")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--to': 'npub1nope' is not a Nostr public key; use 64 hex "
        "characters or npub1….")
    assert written() == (0, 0) and queued(broker) == []


def test_a_resolved_dispute_is_refused(make_dispute, escalate, broker):
    d = make_dispute(state="resolved", dispute_status="seller-refunded")
    result = escalate(d.dispute_id)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: dispute {d.dispute_id} is already resolved (Mostro status seller-refunded); "
        "there is nothing left for a solver to take.")
    assert written() == (0, 0) and queued(broker) == []


def test_to_overrides_the_configured_routing(make_dispute, escalate, broker, cy):
    d = make_dispute()
    refused = escalate(d.dispute_id, "--to", cy.pubkey)
    assert refused.exit_code == 1 and "not a configured solver" in refused.stderr
    assert written() == (0, 0)
    result = escalate(d.dispute_id, "--to", cy.pubkey, "--force")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:3] == ["recipients (manual):", f"  {cy.pubkey}"]


def test_an_unroutable_escalation_is_recorded_with_a_warning(make_dispute, escalate, bo):
    d = make_dispute()
    result = escalate(d.dispute_id, solvers=[bo.read()])
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        "WARNING: no solver can receive it yet (1 configured, none with write permission, "
        "fallback_to_all_solvers off); it waits until you add a write solver, or re-run with "
        "--again --to PUBKEY.")
    assert EscalationHandoff.select().count() == 1


def test_escalations_list_shows_handoffs_and_their_dispatch_status(make_dispute, escalate,
                                                                   signer, esc_settings, ana):
    from serbero import clock
    from serbero.escalation import scan

    sent, waiting = make_dispute(), make_dispute()
    escalate(sent.dispute_id)
    scan.dispatch_due(clock.now() + 1, settings=esc_settings(solvers=[ana.write()]),
                          signer=signer)
    Dispute.update(lifecycle_state="notified").execute()
    escalate(waiting.dispute_id)

    listing = escalate(group="escalations list")
    assert listing.exit_code == 0, listing.output
    header, newest, oldest = listing.stdout.splitlines()
    assert header.split() == ["HANDOFF", "DISPUTE", "TRIGGER", "STATUS", "ROUTE", "DELIVERED",
                              "ATTEMPTS", "CREATED", "(UTC)", "NEXT", "TRY", "(UTC)", "TO"]
    assert newest.split()[1:7] == [waiting.dispute_id, "manual", "pending", "-", "-", "0"]
    assert oldest.split()[1:7] == [sent.dispute_id, "manual", "sending", "broadcast", "0/1",
                                   "1"]
    pending = escalate("--pending", group="escalations list")
    assert [line.split()[1] for line in pending.stdout.splitlines()[1:]] == \
        [waiting.dispute_id, sent.dispute_id]


def test_escalations_list_says_when_there_is_nothing(db, escalate):
    result = escalate("--pending", group="escalations list")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "(no pending handoffs)"


def test_escalations_list_shows_a_handoff_the_dispatcher_has_not_seen_yet(make_dispute, escalate):
    from serbero.escalation.package import HandoffPackage

    d = make_dispute()
    pkg = HandoffPackage(d.dispute_id, "fraud_indicator", (), "b", "h", (), 1_750_000_000)
    AuditEvent.create(kind="handoff_prepared", dispute_id=d.dispute_id,
                      payload_json=pkg.to_json(), occurred_at=1_750_000_000)
    listing = escalate("--pending", group="escalations list")
    assert listing.exit_code == 0, listing.output
    assert listing.stdout.splitlines()[1].split()[1:5] == \
        [d.dispute_id, "fraud_indicator", "pending", "-"]


def test_without_redis_escalate_says_the_running_daemon_will_dispatch_it(make_dispute, escalate,
                                                                          broker):
    d = make_dispute()
    result = escalate(d.dispute_id, env={"SERBERO_REDIS_URL": ""})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "no SERBERO_REDIS_URL: `serbero run` dispatches it within 30 s (its dispatcher scan).")
    assert queued(broker) == [] and EscalationHandoff.select().count() == 1
