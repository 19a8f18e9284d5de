"""What an operator sees when the environment is wrong, from the real `serbero` command in its
own process against the real failure (issue 10, operator items 3, 6 and 10): one clear line
that names the database, Redis or setting and the fix, and a non-zero exit; never a traceback.
The same errors from every command are checked in-process at the end."""

import stat
import tomllib

import pytest
from click.testing import CliRunner
from nostr_sdk import Keys

from serbero.cli import cli
from tests.conftest import PG_URL, _answers, _free_port, need, run_serbero

MOSTRO = Keys.generate().public_key().to_hex()


def write_config(directory, *, key=True, solvers=1, relays=("ws://127.0.0.1:9",),
                 db_path="serbero.db"):
    directory.mkdir(parents=True, exist_ok=True)
    text = "[serbero]\n"
    if key:
        text += f'private_key = "{Keys.generate().secret_key().to_hex()}"\n'
    text += f'db_path = "{db_path}"\n[mostro]\npubkey = "{MOSTRO}"\n'
    text += "".join(f'[[relays]]\nurl = "{url}"\n' for url in relays)
    text += "".join(f'[[solvers]]\npubkey = "{Keys.generate().public_key().to_hex()}"\n'
                    for _ in range(solvers))
    path = directory / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def closed_pg_url(password="s3cret-pw"):
    return f"postgresql://postgres:{password}@127.0.0.1:{_free_port()}/serbero"


# ------------------------------------------------------------------ item 3: the database


def test_an_sqlite_file_in_a_missing_directory_is_one_line_naming_the_fix(tmp_path):
    missing = tmp_path / "nope" / "data" / "serbero.db"
    config = write_config(tmp_path, db_path=str(missing))
    done = run_serbero("run", "-c", str(config))
    assert done.returncode == 1
    assert done.stderr == (f"database error: sqlite:///{missing}: the directory {missing.parent} "
                           f"does not exist; create it (mkdir -p {missing.parent}) or set "
                           "[serbero].db_path or SERBERO_DB_URL to a file in an existing "
                           "directory\n")
    assert not missing.parent.exists()


def test_an_sqlite_file_where_nothing_can_be_written_is_one_line(tmp_path):
    # /proc refuses new files even to root, who passes every permission check
    done = run_serbero("migrate", "-c", str(write_config(tmp_path)),
                       env={"SERBERO_DB_URL": "sqlite:////proc/serbero.db"})
    assert done.returncode == 1
    assert done.stderr == (
        "database error: sqlite:////proc/serbero.db: cannot create serbero.db in /proc "
        "(unable to open database file); check that the directory is writable by this user, "
        "or set [serbero].db_path or SERBERO_DB_URL elsewhere\n")


def test_postgres_on_a_closed_port_is_one_line_without_the_password(tmp_path):
    url = closed_pg_url()
    done = run_serbero("migrate", "-c", str(write_config(tmp_path)), env={"SERBERO_DB_URL": url})
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"database error: {url.replace('s3cret-pw', '***')}: the server "
                           "does not answer (")
    assert "Connection refused" in line and line.endswith(
        "; start PostgreSQL, or fix the host and port in SERBERO_DB_URL")
    assert "s3cret-pw" not in done.stdout + done.stderr


@pytest.mark.postgres
def test_a_postgres_database_that_does_not_exist_says_to_create_it(tmp_path):
    need(_answers("127.0.0.1", 5432), "PostgreSQL at 127.0.0.1:5432")
    url = PG_URL.rsplit("/", 1)[0] + "/serbero_no_such_db"
    done = run_serbero("status", "-c", str(write_config(tmp_path)), env={"SERBERO_DB_URL": url})
    assert done.returncode == 1
    assert done.stderr.startswith(f"database error: {url}: ")
    assert 'database "serbero_no_such_db" does not exist; create it (createdb)' in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_check_config_checks_that_database_and_redis_answer_unless_offline(tmp_path,
                                                                           private_redis):
    config = str(write_config(tmp_path))
    env = {"SERBERO_REDIS_URL": private_redis.url}
    assert run_serbero("check-config", "-c", config, env=env).stdout.endswith(
        "ok; the database and Redis answer\n")
    # Given Redis stopped
    private_redis.stop()
    done = run_serbero("check-config", "-c", config, env=env)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"redis error: {private_redis.url}: does not answer (")
    assert line.endswith("; start Redis, or fix SERBERO_REDIS_URL")
    # and with --offline nothing is contacted
    offline = run_serbero("check-config", "--offline", "-c", config, env=env)
    assert (offline.returncode, offline.stderr) == (0, "")
    assert offline.stdout.endswith("\nok\n")


# ------------------------------------------------------------------ item 6: configuration


def test_check_config_warns_on_silent_deployments_and_strict_fails_them(tmp_path):
    config = str(write_config(tmp_path, solvers=0,
                              relays=("wss://relay.example", "wss://Relay.example/")))
    done = run_serbero("check-config", "--offline", "-c", config)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "WARNING: [[relays]] #2.url: `wss://Relay.example/` is the same relay as [[relays]] #1; "
        "remove one of them.",
        "WARNING: solvers: none configured; disputes will be recorded but nobody will be told. "
        'Add a [[solvers]] table with pubkey = "npub1…".']
    assert done.stdout.endswith("ok, with warnings above\n")
    strict = run_serbero("check-config", "--offline", "--strict", "-c", config)
    assert strict.returncode == 2
    assert strict.stderr.splitlines()[-1] == "config error: --strict: 2 warning(s) above."


def test_a_relay_without_a_host_and_an_unparsable_redis_url_are_errors(tmp_path):
    config = str(write_config(tmp_path, relays=("wss://", "ws:///path")))
    done = run_serbero("check-config", "-c", config,
                       env={"SERBERO_REDIS_URL": "redis://:pw@127.0.0.1:notaport/0"})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "config error: [[relays]] #1.url: `wss://` names no host; write it as "
        "wss://relay.example.",
        "config error: [[relays]] #2.url: `ws:///path` names no host; write it as "
        "wss://relay.example.",
        "config error: SERBERO_REDIS_URL: `redis://:***@127.0.0.1:notaport/0` does not parse "
        "(Port could not be cast to integer value as 'notaport'); write it as "
        "redis://host:6379/0."]


def test_a_daemon_started_with_no_valid_solver_says_so_in_its_log(tmp_path, relay):
    config = write_config(tmp_path, solvers=0, relays=(relay,))
    text = config.read_text() + '[[solvers]]\npubkey = "npub1typo"\n'
    config.write_text(text)
    # stopped once the second warning is out (stopping at the first raced the second)
    done = run_serbero("run", "-c", str(config), env={"SERBERO_LOG_FORMAT": "json"},
                       timeout_s=60, stop_when="none of the 1 configured has a valid pubkey")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "config_warning" in line]
    assert len(warnings) == 2 and "none of the 1 configured has a valid pubkey" in warnings[1]


# ------------------------------------------------------------------ item 10: keys and paths


def test_a_key_file_written_by_keys_generate_is_what_the_daemon_reads(tmp_path):
    key = tmp_path / "serbero.key"
    made = run_serbero("keys", "generate", "--out", str(key))
    assert made.returncode == 0 and made.stderr == ""
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_text().strip()
    assert secret.startswith("nsec1") and secret not in made.stdout
    public = next(line.split()[-1] for line in made.stdout.splitlines()
                  if line.startswith("public hex:"))
    config = str(write_config(tmp_path, key=False))
    shown = run_serbero("keys", "show", "-c", config,
                        env={"SERBERO_PRIVATE_KEY_FILE": str(key)})
    assert shown.returncode == 0 and f"public hex: {public}" in shown.stdout
    # a second --out to the same file leaves the first key alone
    again = CliRunner().invoke(cli, ["keys", "generate", "--out", str(key)])
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert key.read_text().strip() == secret


def test_a_bad_private_key_in_the_environment_is_reported_as_the_variable(tmp_path):
    done = run_serbero("check-config", "--offline", "-c", str(write_config(tmp_path)),
                       env={"SERBERO_PRIVATE_KEY": "not-a-key"})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "config error: SERBERO_PRIVATE_KEY: not a valid secret key; use 64 hex characters or "
        "nsec1… (`serbero keys generate --out FILE` writes one)."]
    assert "not-a-key" not in done.stderr


def test_a_relative_db_path_is_next_to_the_config_file_wherever_serbero_starts(tmp_path):
    config = write_config(tmp_path / "etc")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    done = run_serbero("migrate", "-c", str(config), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "etc" / "serbero.db").exists()
    assert list(elsewhere.iterdir()) == []


def test_the_hint_for_a_missing_config_names_a_command_that_works(tmp_path):
    missing = tmp_path / "config.toml"
    done = run_serbero("check-config", env={"SERBERO_CONFIG": str(missing)})
    assert done.returncode == 2
    assert f"`serbero config sample > {missing}`" in done.stderr
    sample = run_serbero("config", "sample")
    assert sample.returncode == 0
    doc = tomllib.loads(sample.stdout)
    assert {"serbero", "mostro", "relays", "solvers", "timeouts"} <= set(doc)


# ------------------------------------------------------------------ every command


DATABASE_COMMANDS = [
    ["migrate"], ["listen"], ["run"], ["worker"], ["status"], ["metrics", "--port", "0"],
    ["escalate", "4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10"], ["escalations", "list"],
    ["disputes", "list"], ["disputes", "show", "4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10"],
    ["check-config"],
]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_every_command_reports_an_unreachable_database_in_one_line(command, tmp_path):
    url = closed_pg_url()
    result = CliRunner(env={"SERBERO_DB_URL": url}).invoke(
        cli, [*command, "-c", str(write_config(tmp_path))])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"database error: {url.replace('s3cret-pw', '***')}: the server "
                           "does not answer")
