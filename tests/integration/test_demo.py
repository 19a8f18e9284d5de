"""`serbero demo` runs the real daemon around simulators and checks what solvers decrypted."""

import pytest
from click.testing import CliRunner

from serbero.cli import cli


@pytest.mark.slow
def test_the_demo_shows_every_notice_and_succeeds():
    result = CliRunner().invoke(cli, ["demo", "--disputes", "3", "--solvers", "2"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    # each solver's Mostro v2 messages, by the subject of their first line
    assert out.count("… new (") == 6
    assert out.count("… taken (") == 2
    assert out.count("… unattended (") >= 2
    assert out.count("… resolved: ") == 4
    assert out.count("[mostro-v2]") == out.count("] solver-")
    assert "demo finished: every solver got what it should" in out


@pytest.mark.slow
def test_the_mediation_demo_summarises_one_dispute_and_hands_off_the_other():
    result = CliRunner().invoke(cli, ["demo", "--mediation"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count("app shows a message from its solver (Serbero)") == 4
    assert "ana (write) ← “summary”" in out and "bo (read) ← “summary”" not in out
    assert "ana (write) ← “handed off: conflicting_claims”" in out
    assert out.count("← “transcript (") == 2
    assert "demo finished: one dispute summarised, one handed off" in out
