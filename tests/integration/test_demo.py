"""`serbero demo` runs the real daemon around simulators and checks what solvers decrypted."""

import pytest
from click.testing import CliRunner

from serbero.cli import cli


@pytest.mark.slow
def test_the_demo_shows_every_notice_and_succeeds():
    result = CliRunner().invoke(cli, ["demo", "--disputes", "3", "--solvers", "2"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count("New Mostro dispute requires attention.") == 6
    assert out.count("Mostro dispute has been taken.") == 2
    assert out.count("Mostro dispute is still unattended.") >= 2
    assert out.count("Mostro dispute has been resolved.") == 4
    assert "demo finished: every solver got what it should" in out
