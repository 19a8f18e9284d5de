"""The `serbero` command: help everywhere, inspection output, keys, migrate, exit codes."""

import pytest
from click.testing import CliRunner
from nostr_sdk import Keys

from serbero.cli import cli


def all_commands(group=cli, prefix=()):
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", list(all_commands()), ids=" ".join)
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3


@pytest.fixture
def config_file(tmp_path, runtime):
    from tests.integration.test_race import write_config

    path = write_config(tmp_path / "cli.toml", runtime.settings)
    return path, {"SERBERO_DB_URL": runtime.settings.db_url}


def test_disputes_list_and_show_tell_the_story(mostro, driver, solver_bo, config_file):
    path, env = config_file
    dispute_id = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
    driver.ingest(mostro.revision(dispute_id, "initiated", initiator="seller"))
    driver.ingest(mostro.revision(dispute_id, "in-progress", solver=solver_bo.pubkey))
    runner = CliRunner(env=env)

    listing = runner.invoke(cli, ["disputes", "list", "-c", str(path)])
    assert listing.exit_code == 0, listing.output
    header, row = listing.stdout.splitlines()
    assert header.split()[:3] == ["DISPUTE", "STATE", "MOSTRO"]
    assert row.split()[:4] == [dispute_id, "taken", "in-progress", "seller"]

    shown = runner.invoke(cli, ["disputes", "show", dispute_id, "-c", str(path)])
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert f"assigned_solver   {solver_bo.pubkey}" in text
    timeline = text.split("timeline (UTC):")[1]
    assert timeline.index("- → new") < timeline.index("new → notified") < \
        timeline.index("notified → taken")
    assert timeline.count("initial to") == 2 and timeline.count("assignment to") == 2


def test_disputes_show_of_an_unknown_id_is_a_clear_error(config_file):
    path, env = config_file
    result = CliRunner(env=env).invoke(cli, ["disputes", "show", "nope", "-c", str(path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == \
        "Error: no dispute with id 'nope'; `serbero disputes list` shows them."


def test_disputes_list_refuses_an_unknown_state(config_file):
    path, env = config_file
    result = CliRunner(env=env).invoke(cli, ["disputes", "list", "--state", "lost",
                                             "-c", str(path)])
    assert result.exit_code == 2


def test_keys_generate_prints_a_usable_pair_and_show_never_the_secret(tmp_path, config_file):
    generated = CliRunner().invoke(cli, ["keys", "generate"]).stdout
    secret = generated.split("secret (keep it secret): ")[1].split()[0]
    public = generated.split("public hex:")[1].split()[0]
    assert Keys.parse(secret).public_key().to_hex() == public

    path, env = config_file
    shown = CliRunner(env=env).invoke(cli, ["keys", "show", "-c", str(path)]).stdout
    assert "npub1" in shown and "nsec1" not in shown
    assert path.read_text().split('"')[1] not in shown


def test_migrate_is_safe_to_repeat(tmp_path, config_file):
    path, _ = config_file
    env = {"SERBERO_DB_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    first = CliRunner(env=env).invoke(cli, ["migrate", "-c", str(path)])
    again = CliRunner(env=env).invoke(cli, ["migrate", "-c", str(path)])
    assert first.exit_code == again.exit_code == 0
    assert first.stdout.startswith("applied versions [1")
    assert again.stdout.strip() == "nothing to migrate"


def test_demo_rejects_silly_sizes():
    result = CliRunner().invoke(cli, ["demo", "--disputes", "0"])
    assert result.exit_code == 2


def test_inspecting_a_mistyped_database_path_creates_nothing(tmp_path, config_file):
    path, _ = config_file
    missing = tmp_path / "typo" / "serbero.db"
    result = CliRunner(env={"SERBERO_DB_URL": f"sqlite:///{missing}"}).invoke(
        cli, ["disputes", "list", "-c", str(path)])
    assert result.exit_code == 1
    assert result.stderr == (f"database error: sqlite:///{missing}: the directory "
                             f"{missing.parent} does not exist; create it (mkdir -p "
                             f"{missing.parent}) or set [serbero].db_path or SERBERO_DB_URL to a "
                             "file in an existing directory\n")
    assert not missing.parent.exists()
    typo = tmp_path / "typo.db"
    result = CliRunner(env={"SERBERO_DB_URL": f"sqlite:///{typo}"}).invoke(
        cli, ["disputes", "list", "-c", str(path)])
    assert result.exit_code == 1
    assert result.stderr == (f"database error: sqlite:///{typo}: no database at {typo}; "
                             "check [serbero].db_path or SERBERO_DB_URL (or start Serbero, or "
                             "run `serbero migrate`, to create it)\n")
    assert not typo.exists()
