"""`serbero mediation list|show`: what an operator reads about sessions; rationale text only on
request; unknown ids and bad states are clear errors; nothing is written."""

from click.testing import CliRunner

from serbero.cli import cli
from serbero.commands.mediation import STATES
from serbero.mediation import sessions
from serbero.simulators.model import classification
from tests.mediation.harness import opened
from tests.mediation.test_worker_processes import toml


def run(db, tmp_path, serbero_keys, *args):
    path = tmp_path / "ops.toml"
    path.write_text(toml({"serbero": {"private_key": serbero_keys.secret_key().to_hex()},
                          "mostro": {"pubkey": "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce"
                                               "28d959f2815b16f81798"},
                          "relays": [{"url": "wss://relay.example"}]}))
    path.chmod(0o600)
    return CliRunner(env={"SERBERO_DB_URL": db.url}).invoke(cli, [*args, "-c", str(path)])


def test_list_and_show_tell_an_operator_what_a_session_did(med, scripts, db, tmp_path,
                                                          serbero_keys):
    dispute = med.open_dispute()
    scripts.on(dispute, classification("ask_clarification", buyer="When did you pay?",
                                       seller="Did it arrive?", confidence=0.77,
                                       rationale="The buyer says they paid; nothing else."))
    buyer, _ = opened(med, dispute)
    med.chat(buyer, "I paid at 10:02\nfrom my bank")
    session = med.session(dispute)
    listed = run(db, tmp_path, serbero_keys, "mediation", "list", "--state", "awaiting_response")
    assert listed.exit_code == 0, listed.output
    assert session.session_id in listed.output and "1/2" in listed.output
    shown = run(db, tmp_path, serbero_keys, "mediation", "show", dispute)
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert f"session_id      {session.session_id}" in out
    assert "classification  coordination_failure_resolvable (0.77)" in out
    assert "buyer: I paid at 10:02\\nfrom my bank" in out
    assert "serbero → seller: Hi, I'm Serbero" in out
    assert "classification_produced" in out and "rationale " in out
    assert "The buyer says they paid" not in out
    with_text = run(db, tmp_path, serbero_keys, "mediation", "show", session.session_id,
                    "--show-rationale")
    assert "rationale: The buyer says they paid; nothing else." in with_text.output


def test_an_unknown_id_and_a_bad_state_are_clear_errors(db, tmp_path, serbero_keys):
    missing = run(db, tmp_path, serbero_keys, "mediation", "show", "nope")
    assert missing.exit_code == 1 and "no mediation session" in missing.output
    bad = run(db, tmp_path, serbero_keys, "mediation", "list", "--state", "chatting")
    assert bad.exit_code == 2
    assert STATES == sessions.STATES


def test_status_and_metrics_count_sessions_by_state_and_escalations_by_trigger(med, scripts):
    from serbero.ops import prometheus, snapshot, status

    dispute = med.open_dispute()
    scripts.on(dispute, classification("escalate"))
    med.run_due()
    other = med.open_dispute()
    scripts.on(other, classification("ask_clarification", buyer="?", seller="?"))
    opened(med, other)
    snap = snapshot.take(med.rt.settings.replace(redis_url=None), [], alive_within_s=30)
    lines = status.render(snap)
    [mediation] = [line for line in lines if line.startswith("mediation")]
    assert "awaiting_response 1" in mediation and "escalation_recommended 1" in mediation
    assert any(line.startswith("escalations") and "reasoning_unavailable 1" in line
               for line in lines)
    families = {f.name: f for f in prometheus.SerberoCollector(
        med.rt.settings.replace(redis_url=None), [], alive_within_s=30).collect()}
    samples = {s.labels["state"]: s.value for s in families["serbero_mediation_sessions"].samples}
    assert samples["awaiting_response"] == 1 and samples["escalation_recommended"] == 1
