"""`serbero mostro info` against a real in-process relay where the simulated node announces
itself; and the `[mostro]` settings it reads."""

import pytest
from click.testing import CliRunner
from nostr_sdk import Keys

from serbero import config
from serbero.cli import cli
from serbero.errors import ConfigError
from serbero.simulators.mostro_responder import MostroResponder


def write_config(tmp_path, *, relay, mostro_pubkey, serbero_keys, extra=""):
    path = tmp_path / "config.toml"
    path.write_text(f"""
[serbero]
private_key = "{serbero_keys.secret_key().to_hex()}"
db_path = "{tmp_path / 'serbero.db'}"

[mostro]
pubkey = "{mostro_pubkey}"
{extra}

[[relays]]
url = "{relay}"
""")
    path.chmod(0o600)
    return path


def run_info(path, *args):
    return CliRunner().invoke(cli, ["mostro", "info", "-c", str(path), "--timeout", "2", *args])


def test_info_shows_what_the_node_announces(nostr_loop, relay, mostro, serbero_keys, tmp_path):
    # Given a v2 node that names this Serbero and lists its relays
    node = MostroResponder(mostro, pow_bits=6, pow_first_contact=12,
                           serbero=serbero_keys.public_key().to_hex())
    nostr_loop.run(node.announce(["wss://relay.example", relay]), 10)
    path = write_config(tmp_path, relay=relay, mostro_pubkey=mostro.pubkey,
                        serbero_keys=serbero_keys)
    # When the operator asks
    result = run_info(path)
    # Then every announced fact is printed, and how Serbero will talk to the node
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines())
    assert lines["node"].strip() == mostro.pubkey
    assert lines["protocol version"].strip() == "2 (kind 14, NIP-44)"
    assert lines["pow"].strip() == "6 bits"
    assert lines["pow first contact"].strip() == "12 bits"
    assert lines["relays (kind 10002)"].strip() == f"wss://relay.example, {relay}"
    assert lines["serbero key"].strip() == f"{serbero_keys.public_key().to_hex()} (this Serbero)"
    assert lines["serbero will use"].strip() == "v2, 12 bits of work (announced)"
    assert lines["mostro version"].strip() == "0.19.2"


def test_info_warns_when_the_node_trusts_another_serbero(nostr_loop, relay, mostro,
                                                         serbero_keys, tmp_path):
    other = Keys.generate().public_key().to_hex()
    node = MostroResponder(mostro, serbero=other)
    nostr_loop.run(node.announce(), 10)
    path = write_config(tmp_path, relay=relay, mostro_pubkey=mostro.pubkey,
                        serbero_keys=serbero_keys)
    result = run_info(path)
    assert result.exit_code == 0
    assert f"serbero key:         {other} (NOT this Serbero)" in result.stdout
    assert "takes refused (foreign_serbero_key)" in result.stdout
    assert "WARNING: the node trusts Serbero key" in result.stderr


def test_info_on_an_old_node_and_with_overrides(nostr_loop, relay, mostro, serbero_keys,
                                                tmp_path):
    # Given a node whose info event has no protocol_version, no first-contact pow, no serbero
    node = MostroResponder(mostro, transport_version="v1", pow_bits=3)
    nostr_loop.run(node.node.send(node.info_event(protocol_version="")), 10)
    path = write_config(tmp_path, relay=relay, mostro_pubkey=mostro.pubkey,
                        serbero_keys=serbero_keys, extra='transport = "v2"\npow_bits = 5')
    result = run_info(path)
    assert result.exit_code == 0, result.output
    assert "protocol version:    absent: gift wrap (v1) assumed" in result.output
    assert "pow first contact:   unknown" in result.output
    assert "serbero key:         none announced" in result.output
    assert "relays (kind 10002): none announced" in result.output
    assert "serbero will use:    v2, 5 bits of work (config)" in result.output


def test_info_without_an_announcement_fails_with_a_hint(relay, mostro, serbero_keys, tmp_path):
    path = write_config(tmp_path, relay=relay, mostro_pubkey=mostro.pubkey,
                        serbero_keys=serbero_keys)
    result = run_info(path)
    assert result.exit_code == 1
    assert "no info event (kind 38385)" in result.output
    assert "check [mostro].pubkey" in result.output


def doc(**mostro):
    return {"serbero": {"private_key": Keys.generate().secret_key().to_hex()},
            "mostro": {"pubkey": Keys.generate().public_key().to_hex(), **mostro},
            "relays": [{"url": "wss://r.example"}]}


def test_mostro_settings_default_to_following_the_node():
    settings = config.from_mapping(doc(), {})
    assert (settings.mostro.transport, settings.mostro.pow_bits, settings.mostro.max_pow_bits,
            settings.mostro.take_timeout_seconds) == ("auto", -1, 20, 30)


@pytest.mark.parametrize(("values", "message"), [
    ({"transport": "gift-wrap"}, '[mostro].transport: must be "auto", "v1"'),
    ({"transport": 2}, "[mostro].transport: expected str"),
    ({"pow_bits": -2}, "[mostro].pow_bits: must be -1 (as announced) or 0..32"),
    ({"pow_bits": 33}, "[mostro].pow_bits: must be -1"),
    ({"max_pow_bits": -1}, "[mostro].max_pow_bits: must be 0..32"),
    ({"take_timeout_seconds": 0}, "[mostro].take_timeout_seconds: must be a positive"),
    ({"take_timeout_seconds": "30"}, "[mostro].take_timeout_seconds: expected int"),
    ({"transprot": "v2"}, "[mostro]: unknown key `transprot`"),
])
def test_bad_mostro_settings_are_reported(values, message):
    with pytest.raises(ConfigError) as err:
        config.from_mapping(doc(**values), {})
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems
