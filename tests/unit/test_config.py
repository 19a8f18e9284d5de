"""Configuration: the Rust Serbero's file works unchanged; every problem is reported at once."""

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from nostr_sdk import Keys

from serbero import config
from serbero.cli import cli
from serbero.errors import ConfigError

SERBERO = Keys.generate()
MOSTRO = Keys.generate()
SOLVER = Keys.generate()

RUST_CONFIG = f"""
[serbero]
private_key = "{SERBERO.secret_key().to_hex()}"
db_path = "serbero.db"
log_level = "info"

[mostro]
pubkey = "{MOSTRO.public_key().to_hex()}"

[[relays]]
url = "wss://relay.mostro.network"

[[relays]]
url = "wss://nos.lol"

[[solvers]]
pubkey = "{SOLVER.public_key().to_hex()}"
permission = "write"

[[solvers]]
pubkey = "{Keys.generate().public_key().to_bech32()}"

[timeouts]
renotification_seconds = 300
renotification_check_interval_seconds = 60

[mediation]
enabled = false
max_rounds = 2
party_response_timeout_seconds = 1800

[reasoning]
enabled = false
provider = "openai"
model = "gpt-5"
api_base = "https://api.openai.com/v1"
api_key_env = "SERBERO_REASONING_API_KEY"

[prompts]
system_instructions_path = "./prompts/phase3-system.md"

[chat]
inbound_fetch_interval_seconds = 10

[escalation]
enabled = true
dispatch_interval_seconds = 30
fallback_to_all_solvers = false
"""


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def problems_of(doc: dict, env: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config.from_mapping(doc, env or {})
    return err.value.problems


def minimal(**sections) -> dict:
    doc = {"serbero": {"private_key": SERBERO.secret_key().to_hex()},
           "mostro": {"pubkey": MOSTRO.public_key().to_hex()},
           "relays": [{"url": "wss://relay.example"}]}
    doc.update(sections)
    return doc


def test_an_existing_rust_config_loads_unchanged(tmp_path):
    settings = config.load(write(tmp_path, RUST_CONFIG), environ={})
    assert settings.serbero_pubkey == SERBERO.public_key().to_hex()
    assert settings.mostro_pubkey == MOSTRO.public_key().to_hex()
    assert settings.relays == ("wss://relay.mostro.network", "wss://nos.lol")
    assert [s.permission for s in settings.solvers] == ["write", "read"]
    assert settings.timeouts.renotification_seconds == 300
    assert settings.escalation.enabled is True
    assert settings.warnings == ()
    assert settings.redis_url is None
    # issue 10: a relative db_path is found next to the configuration file, not in the cwd
    assert settings.db_url == f"sqlite:///{tmp_path / 'serbero.db'}"


def test_keys_may_be_bech32():
    settings = config.from_mapping(minimal(
        serbero={"private_key": SERBERO.secret_key().to_bech32()},
        mostro={"pubkey": MOSTRO.public_key().to_bech32()}), {})
    assert settings.serbero_pubkey == SERBERO.public_key().to_hex()
    assert settings.mostro_pubkey == MOSTRO.public_key().to_hex()


def test_every_problem_is_reported_at_once_one_line_each():
    problems = problems_of({
        "serbero": {"private_key": "not-a-key", "colour": "blue"},
        "mostro": {"pubkey": "npub1nope"},
        "solvers": [{"pubkey": SOLVER.public_key().to_hex(), "permission": "Write"}],
        "timeouts": {"renotification_check_interval_seconds": 0, "renotification_seconds": -5},
        "escalation": {"dispatch_interval_seconds": 0},
        "webhook": {},  # a typo of [[webhooks]]
    })
    text = "\n".join(problems)
    assert "unknown section `[webhook]`" in text
    assert "[serbero]: unknown key `colour`" in text
    assert "[serbero].private_key: not a valid secret key" in text
    assert "[mostro].pubkey: `npub1nope` is not a valid public key" in text
    assert "relays: none configured" in text
    assert '[[solvers]] #1.permission: `Write` is not allowed; use "read" or "write"' in text
    assert "[timeouts].renotification_check_interval_seconds: must be a positive number" in text
    assert "[timeouts].renotification_seconds: must be a positive number (got -5)" in text
    assert "[escalation].dispatch_interval_seconds: must be a positive number (got 0)" in text
    assert len(problems) == 9


def test_a_bad_secret_is_never_repeated_in_the_error():
    secret = "f" * 63 + "g"
    problems = problems_of(minimal(serbero={"private_key": secret}))
    assert all(secret not in p for p in problems)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("renotification_seconds", "300", "expected int, got str"),
    ("renotification_seconds", True, "expected int, got bool"),
    ("renotification_backoff_factor", 0.5, "must be at least 1.0"),
    ("renotification_max_count", -1, "must not be negative"),
])
def test_timeouts_are_type_checked(key, value, expected):
    [problem] = problems_of(minimal(timeouts={key: value}))
    assert problem.startswith(f"[timeouts].{key}: ") and expected in problem


def test_a_solver_key_that_does_not_parse_only_warns():
    settings = config.from_mapping(minimal(solvers=[{"pubkey": "npub1garbage"},
                                                    {"pubkey": SOLVER.public_key().to_hex()}]), {})
    [warning] = settings.warnings
    assert "`npub1garbage` does not parse" in warning and "invalid pubkey" in warning
    assert settings.solvers[0].hex_pubkey is None
    assert settings.solvers[1].hex_pubkey == SOLVER.public_key().to_hex()


def test_environment_overrides_are_trimmed_and_blank_ones_ignored(tmp_path):
    other = Keys.generate()
    env = {"SERBERO_PRIVATE_KEY": f"  {other.secret_key().to_hex()}\n",
           "SERBERO_DB_URL": "   ", "SERBERO_DB_PATH": str(tmp_path / "x.db"),
           "SERBERO_REDIS_URL": "redis://127.0.0.1:6379/3", "SERBERO_LOG": "serbero=debug"}
    settings = config.from_mapping(minimal(), env)
    assert settings.serbero_pubkey == other.public_key().to_hex()
    assert settings.db_url == f"sqlite:///{tmp_path / 'x.db'}"
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.log_level == "serbero=debug"


def test_postgres_url_is_accepted_and_other_schemes_refused():
    url = "postgresql://serbero:pw@db:5432/serbero"
    assert config.from_mapping(minimal(), {"SERBERO_DB_URL": url}).db_url == url
    [problem] = problems_of(minimal(), {"SERBERO_DB_URL": "mysql://u:secretpw@h/db"})
    assert "unsupported scheme" in problem and "secretpw" not in problem


def test_private_key_file_must_be_private(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(SERBERO.secret_key().to_hex() + "\n")
    key_file.chmod(0o644)
    [problem] = problems_of(minimal(serbero={}), {"SERBERO_PRIVATE_KEY_FILE": str(key_file)})
    assert problem.startswith("SERBERO_PRIVATE_KEY_FILE:") and "chmod 600" in problem
    key_file.chmod(0o600)
    settings = config.from_mapping(minimal(serbero={}), {"SERBERO_PRIVATE_KEY_FILE": str(key_file)})
    assert settings.serbero_pubkey == SERBERO.public_key().to_hex()


def test_the_secret_never_shows_in_reprs():
    settings = config.from_mapping(minimal(), {})
    assert SERBERO.secret_key().to_hex() not in repr(settings)
    assert settings.private_key.reveal() == SERBERO.secret_key().to_hex()


def test_a_world_readable_file_with_a_key_warns(tmp_path):
    settings = config.load(write(tmp_path, RUST_CONFIG, mode=0o644), environ={})
    assert any("chmod 600" in w for w in settings.warnings)


def test_missing_file_and_bad_toml_are_clear(tmp_path):
    with pytest.raises(ConfigError, match=r"no file at .*`serbero config sample > "):
        config.load(tmp_path / "absent.toml", environ={})
    with pytest.raises(ConfigError, match="is not valid TOML"):
        config.load(write(tmp_path, "[serbero\nprivate_key="), environ={})


def test_check_config_exits_2_with_one_line_per_problem(tmp_path):
    path = write(tmp_path, "[serbero]\nprivate_key = 'x'\n[bogus]\n")
    result = CliRunner().invoke(cli, ["check-config", "-c", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("config error: ") for line in lines)
    assert len(lines) == 4  # bogus section, bad key, no mostro pubkey, no relays


def test_check_config_prints_a_summary_and_warnings(tmp_path):
    text = RUST_CONFIG + '\n[[solvers]]\npubkey = "npub1broken"\n'
    result = CliRunner().invoke(cli, ["check-config", "-c", str(write(tmp_path, text))])
    assert result.exit_code == 0, result.output
    assert "solvers: 3 (2 with a valid pubkey)" in result.stdout
    assert "WARNING: [[solvers]] #3.pubkey: `npub1broken` does not parse" in result.stderr


def test_serbero_config_env_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, RUST_CONFIG)
    monkeypatch.setenv("SERBERO_CONFIG", str(path))
    assert config.load().config_path == path
    assert os.environ["SERBERO_CONFIG"] == str(path)


def test_the_sample_configuration_is_valid_once_keys_are_filled_in(tmp_path):
    sample = (Path(__file__).parents[2] / "config" / "serbero.sample.toml").read_text()
    sample = (sample.replace("<64 hex characters or nsec1…>", SERBERO.secret_key().to_hex())
              .replace("<64 hex characters or npub1…>", MOSTRO.public_key().to_hex())
              .replace("<npub1… of a solver>", SOLVER.public_key().to_bech32()))
    settings = config.load(write(tmp_path, sample), environ={})
    assert settings.warnings == () and len(settings.relays) == 2


def test_the_environment_only_settings_check_what_the_daemons_check():
    # The dashboard reads ServiceSettings alone: the log format and a Redis URL that does not
    # parse are refused there too, each named, and SERBERO_LOG is kept as set (issue 10 on
    # issue 11's settings).
    service = config.load_service({"SERBERO_LOG_FORMAT": "JSON", "SERBERO_LOG": "debug"})
    assert (service.log_format, service.log_level, service.env_log_level) == \
        ("json", "debug", "debug")
    quiet = config.load_service({})
    assert (quiet.log_format, quiet.log_level, quiet.env_log_level) == ("logfmt", "info", None)
    with pytest.raises(ConfigError) as err:
        config.load_service({"SERBERO_LOG_FORMAT": "xml",
                             "SERBERO_REDIS_URL": "redis://:pw@127.0.0.1:notaport/0"})
    assert [p.split(":")[0] for p in err.value.problems] == ["SERBERO_REDIS_URL",
                                                             "SERBERO_LOG_FORMAT"]
    assert "pw" not in " ".join(err.value.problems)
