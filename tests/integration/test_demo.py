"""`serbero demo` runs the real daemon around simulators and checks what solvers decrypted; run
as its own process, in an environment set up for a production deployment (issue 10, operator
item 5), it touches none of it unless --use-env, leaves nothing behind, and its narrative is
not interleaved with log lines."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from serbero.cli import cli
from tests.conftest import PG_URL, _answers, _free_port, need, run_serbero

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


@pytest.mark.slow
def test_the_demo_shows_every_notice_and_ignores_the_deployment_around_it(tmp_path):
    # Given an environment that points at a production deployment (here: unreachable ones)
    env = {"SERBERO_REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0",
           "SERBERO_DB_URL": f"postgresql://serbero:pw@127.0.0.1:{_free_port()}/production",
           "SERBERO_CONFIG": str(tmp_path / "missing" / "config.toml"),
           "SERBERO_PRIVATE_KEY": "not-a-key", "SERBERO_LOG": "debug"}
    # When the demo runs
    done = run_serbero("demo", "--disputes", "3", "--solvers", "2", env=env, timeout_s=120)
    # Then it succeeds on its own embedded broker and temporary database, saying so
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "; embedded broker" in out and "database sqlite:////" in out
    # each solver's Mostro v2 messages, by the subject of their first line
    assert out.count("… new (") == 6
    assert out.count("… taken (") == 2
    assert out.count("… unattended (") >= 2
    assert out.count("… resolved: ") == 4
    assert out.count("[mostro-v2]") == out.count("] solver-")
    # the replay says that nothing was sent, and why
    assert re.search(r"^  nothing was sent: the replayed event \(\w{8}…\) had been handed over "
                     r"already, .* the newer revision was applied as `duplicate_dispute`", out,
                     re.M), out
    # a manual escalation, and the handoff the write solver receives, in full
    assert out.count("… handed off: manual [mostro-v2]") == 1
    assert '    | Operator\'s note: "buyer sent the bank receipt"' in out
    assert "    | escalation_handoff/v1" in out
    assert "demo finished: every solver got what it should" in out
    # no log line among the narrative's, none on stderr: the log is in the file it names
    assert not any(LOG_LINE.match(line) for line in out.splitlines())
    assert done.stderr == ""
    log = Path(re.search(r"^log: (\S+) \(-v shows it here instead\)$", out, re.M).group(1))
    assert "listener_starting" in log.read_text()
    log.unlink()


@pytest.mark.slow
def test_with_use_env_it_runs_on_the_environments_services_and_leaves_nothing_behind(
        private_redis):
    import redis

    from serbero.db import open_database

    need(_answers("127.0.0.1", 5432), "PostgreSQL at 127.0.0.1:5432")
    # Given the environment's Redis (of the test's own, empty) and PostgreSQL
    env = {"SERBERO_REDIS_URL": private_redis.url, "SERBERO_DB_URL": PG_URL}
    # When the demo is asked to use them
    done = run_serbero("demo", "--disputes", "1", "--solvers", "1", "--use-env", env=env,
                       timeout_s=120)
    # Then it runs on them, in a namespace and a schema of its own
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout.splitlines()[0]
    assert f"Redis {private_redis.url}, namespace serbero-demo-" in said
    schema = re.search(r"schema (serbero_demo_\w+) of ", said).group(1)
    # and removes both afterwards
    assert redis.Redis.from_url(private_redis.url).dbsize() == 0
    admin = open_database(PG_URL, bind=False)
    left = admin.execute_sql("SELECT count(*) FROM information_schema.schemata WHERE "
                             "schema_name = %s", (schema,)).fetchone()[0]
    admin.close()
    assert left == 0
    Path(re.search(r"^log: (\S+) ", done.stdout, re.M).group(1)).unlink()


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
    # like the main demo, the daemon's log is in the file it names, not among the narrative
    assert not any(LOG_LINE.match(line) for line in out.splitlines())
    Path(re.search(r"^log: (\S+) ", out, re.M).group(1)).unlink()
