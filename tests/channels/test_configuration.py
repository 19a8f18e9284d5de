"""`[notifications]`, `[[observers]]` and `[[webhooks]]`: what is accepted, and every bad value
refused with its key named, before anything starts."""

import pytest
from click.testing import CliRunner
from nostr_sdk import Keys

from serbero import config
from serbero.cli import cli
from serbero.errors import ConfigError

SERBERO = Keys.generate()


def doc(**tables):
    return {"serbero": {"private_key": SERBERO.secret_key().to_hex()},
            "mostro": {"pubkey": Keys.generate().public_key().to_hex()},
            "relays": [{"url": "wss://relay.example"}], **tables}


def problems(tables, env=None):
    with pytest.raises(ConfigError) as err:
        config.from_mapping(doc(**tables), env or {})
    return err.value.problems


def test_the_defaults_send_mostro_v2_and_a_solver_may_keep_nip17():
    ana, bo = Keys.generate().public_key().to_hex(), Keys.generate().public_key().to_bech32()
    settings = config.from_mapping(doc(solvers=[{"pubkey": ana},
                                                {"pubkey": bo, "format": "nip17-original"}]), {})
    assert settings.notifications.format == "mostro-v2"
    assert [settings.solver_format(s) for s in settings.solvers] == ["mostro-v2",
                                                                     "nip17-original"]
    assert settings.format_for(Keys.generate().public_key().to_hex()) == "mostro-v2"


@pytest.mark.parametrize("table", ["solvers", "observers"])
def test_serberos_own_key_is_refused_as_solver_or_observer_naming_it(tmp_path, table):
    npub = SERBERO.public_key().to_bech32()
    [problem] = problems({table: [{"pubkey": npub}]})
    assert problem.startswith(f"[[{table}]] #1.pubkey: `{npub}` is Serbero's own key")
    # and `serbero run` refuses to start (exit 2), naming it
    path = tmp_path / "config.toml"
    path.write_text(f'[serbero]\nprivate_key = "{SERBERO.secret_key().to_hex()}"\n'
                    f'[mostro]\npubkey = "{Keys.generate().public_key().to_hex()}"\n'
                    f'[[relays]]\nurl = "ws://127.0.0.1:9"\n[[{table}]]\npubkey = "{npub}"\n')
    path.chmod(0o600)
    result = CliRunner(env={"SERBERO_PRIVATE_KEY": ""}).invoke(cli, ["run", "-c", str(path)])
    assert result.exit_code == 2
    assert f"`{npub}` is Serbero's own key" in result.stderr


def test_an_observer_key_that_does_not_parse_is_a_loud_warning_not_a_stop():
    solver = {"pubkey": Keys.generate().public_key().to_hex()}
    settings = config.from_mapping(doc(solvers=[solver], observers=[{"pubkey": "npub1nope"}]),
                                   {})
    assert settings.warnings == ("[[observers]] #1.pubkey: `npub1nope` does not parse; every "
                                 "notice to this observer will be recorded as failed (invalid "
                                 "pubkey).",)


def test_a_webhook_is_named_signed_from_the_environment_and_filtered():
    settings = config.from_mapping(doc(webhooks=[
        {"url": "https://hooks.example/a", "secret_env": "HOOK_KEY", "events": ["handed off"]},
        {"url": "http://127.0.0.1:9/b", "name": "pager", "timeout_seconds": 2}]),
        {"HOOK_KEY": "s3cret"})
    a, b = settings.webhooks
    assert (a.name, a.secret.reveal(), a.events) == ("webhook-1", "s3cret", ["handed off"])
    assert (b.name, b.secret, b.timeout_seconds) == ("pager", None, 2.0)
    assert "handed off" in config.WEBHOOK_EVENTS and "s3cret" not in repr(settings)


def test_bad_notification_and_webhook_values_are_each_named():
    found = problems({
        "notifications": {"format": "nip04"},
        "solvers": [{"pubkey": Keys.generate().public_key().to_hex(), "format": "html"}],
        "webhooks": [{"url": "ftp://hooks.example/x"}, {"url": "https://[::1/x"},
                     {"url": "https://ok.example", "events": ["transcript", "new"]},
                     {"url": "https://ok.example", "secret_env": "UNSET_HOOK_KEY"},
                     {"url": "https://ok.example", "secret": "inline"},
                     {"url": "https://ok.example", "timeout_seconds": 120},
                     {"url": "https://ok.example", "name": "webhook-1"}]})
    assert found == [
        '[notifications].format: must be "mostro-v2" or "nip17-original", not "nip04".',
        '[[webhooks]] #5.secret: never in the file; put the key in an environment variable '
        'and name it with secret_env.',
        '[[webhooks]] #6.timeout_seconds: must be more than 0 and at most 30 seconds (got 120).',
        '[[solvers]] #1.format: must be "mostro-v2" or "nip17-original", not "html" (or leave '
        'it out to use [notifications].format).',
        "[[webhooks]] #1.url: must be an http:// or https:// URL with a host (webhook "
        "`webhook-1`).",
        "[[webhooks]] #2.url: must be an http:// or https:// URL with a host (webhook "
        "`webhook-2`).",
        "[[webhooks]] #3.events: 'transcript'; choose from new, unattended, taken, resolved, "
        "handed off, mediating, mediation could not start.",
        "[[webhooks]] #4.secret_env: `UNSET_HOOK_KEY` is not set; set it (or "
        "`UNSET_HOOK_KEY_FILE`), or drop secret_env to send unsigned.",
        "[[webhooks]] #7.name: `webhook-1` is used twice; give each webhook its own."]
