"""`serbero escalate`, run as an operator runs it, reads as a manual escalation to the solver
who receives it, and prints nothing stray (issue 10, operator item 9)."""

from nostr_sdk import Keys

from serbero import clock
from serbero.db.models import Outbox
from serbero.escalation import scan
from tests.conftest import run_serbero
from tests.escalation.test_commands import write_config


def test_the_solver_reads_who_escalated_by_hand_and_why(make_dispute, db, esc_settings, ana,
                                                        serbero_keys, tmp_path):
    # Given a dispute, and a deployment where Ana is the write solver
    d = make_dispute()
    config = str(write_config(tmp_path / "config.toml", serbero_keys=serbero_keys,
                              solvers=[ana.write()], enabled=False))
    env = {"SERBERO_DB_URL": db.url}
    # --to refuses a key no solver has, and Serbero's own key even with --force
    stranger = Keys.generate().public_key().to_hex()
    refused = run_serbero("escalate", d.dispute_id, "--to", stranger, "-c", config, env=env)
    assert refused.returncode == 1 and "is not a configured solver" in refused.stderr
    own = run_serbero("escalate", d.dispute_id, "--to", serbero_keys.public_key().to_hex(),
                      "--force", "-c", config, env=env)
    assert own.returncode == 1 and "is Serbero's own key" in own.stderr
    # When the operator escalates with a note
    done = run_serbero("escalate", d.dispute_id, "--note", "buyer sent the bank receipt",
                       "--operator", "olga", "-c", config, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no log lines, no warnings: what it prints is all there is
    assert done.stdout.splitlines()[0].endswith(f"prepared for dispute {d.dispute_id} "
                                                "(trigger manual)")
    # Then the DM Ana decrypts says it was manual, by whom, and shows the note
    [row_id] = scan.dispatch_due(clock.now(), settings=esc_settings(solvers=[ana.write()]),
                                 signer=serbero_keys).outbox_ids
    _, text = ana.open(Outbox.get_by_id(row_id).body)
    assert "An operator escalated this dispute by hand (`serbero escalate`, by olga); no " \
           "mediation system evaluated it." in text
    assert 'Operator\'s note: "buyer sent the bank receipt"' in text
    assert "evaluated by Serbero's mediation assistance system" not in text
