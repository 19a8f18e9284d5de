"""The systemd units in deploy/systemd are valid for systemd itself, run commands that exist,
and are named in the README; the LICENSE file is the MIT licence pyproject.toml declares."""

import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from serbero.cli import cli

ROOT = Path(__file__).parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/opt/serbero/bin/serbero"


def exec_start(unit: Path) -> list[str]:
    [line] = [ln for ln in unit.read_text().splitlines() if ln.startswith("ExecStart=")]
    return shlex.split(line.split("=", 1)[1])


def test_there_is_a_unit_for_run_and_for_listener_and_worker():
    commands = {exec_start(unit)[1] for unit in UNITS}
    assert commands == {"run", "listen", "worker"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_the_unit_without_a_warning(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not available")
    # The unit as installed, with the serbero of this environment where it expects /opt/serbero
    serbero = Path(sys.executable).with_name("serbero")
    local = tmp_path / unit.name
    local.write_text(unit.read_text().replace(INSTALLED, str(serbero)))
    done = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_runs_a_serbero_command_with_options_that_exist(unit):
    argv = exec_start(unit)
    assert argv[0] == INSTALLED
    assert CliRunner().invoke(cli, [*argv[1:], "--help"]).exit_code == 0
    assert f"deploy/systemd/{unit.name}" in (ROOT / "README.md").read_text()


def test_the_licence_file_is_the_mit_licence_pyproject_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "WITHOUT WARRANTY OF ANY KIND" in text
