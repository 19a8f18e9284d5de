"""`serbero disputes show` tells who acknowledged a dispute, when, and how."""

from click.testing import CliRunner

from serbero.cli import cli
from tests.unit.test_cli import config_file  # noqa: F401 - the fixture

D1 = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"


def test_disputes_show_names_the_acknowledger_and_the_timeline_says_how(
        nostr_loop, mostro, acks, solver_ana, solver_bo, config_file):  # noqa: F811
    path, env = config_file
    acks.ingest(mostro.revision(D1, "initiated"))
    nostr_loop.run(solver_ana.wait_for(1, D1), 15)
    acks.reply(nostr_loop, solver_ana, "ack", dispute_id=D1)
    shown = CliRunner(env=env).invoke(cli, ["disputes", "show", D1, "-c", str(path)])
    assert shown.exit_code == 0, shown.output
    assert f"acknowledged_by   {solver_ana.pubkey}" in shown.stdout
    timeline = shown.stdout.split("timeline (UTC):")[1]
    assert "solver_acknowledged" in timeline and '"source":"reply"' in timeline
    assert timeline.count("acknowledged to") == 1  # Bo, told once
