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
