"""Configuration of mediation (`[mediation]`): the keys a session pins, their checks, and the
start-up refusal to mediate without the dispatcher that sends its handoffs."""

from __future__ import annotations

from typing import Any

import pytest

from serbero import config
from serbero.errors import ConfigError

BASE: dict[str, Any] = {
    "serbero": {"private_key": "1" * 64},
    "mostro": {"pubkey": "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
    "relays": [{"url": "wss://relay.example"}],
}


def load(mediation: dict[str, Any], **sections: Any) -> config.Settings:
    return config.from_mapping({**BASE, "mediation": mediation, **sections}, {})


def problems(mediation: dict[str, Any], **sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(mediation, **sections)
    return info.value.problems


def test_the_defaults_and_the_rust_keys_load():
    m = load({"enabled": False, "max_rounds": 3, "party_response_timeout_seconds": 3600,
              "solver_auth_retry_initial_seconds": 60}).mediation
    assert (m.max_rounds, m.party_response_timeout_seconds, m.quiet_period_seconds,
            m.reminder_after_seconds, m.default_language, m.max_messages_per_minute) == (
        3, 3600, 20, 900, "en", 10)


def test_mediation_without_the_escalation_dispatcher_is_refused_in_one_line():
    [problem] = problems({"enabled": True})
    assert problem.startswith("[mediation].enabled = true needs [escalation].enabled = true")
    assert load({"enabled": True}, escalation={"enabled": True}).mediation.enabled


@pytest.mark.parametrize(("mediation", "says"), [
    ({"max_rounds": 0}, "[mediation].max_rounds: must be a positive number"),
    ({"default_language": "de"}, "[mediation].default_language: must be one of en, es, pt"),
    ({"quiet_period_seconds": -1}, "[mediation].quiet_period_seconds: must not be negative"),
    ({"max_messages_per_minute": 0}, "[mediation].max_messages_per_minute: must be a positive"),
    ({"party_response_timeout_seconds": 600},
     "[mediation].reminder_after_seconds (900) must be less than "
     "party_response_timeout_seconds (600)"),
    ({"quiet_period_secs": 5}, "[mediation]: unknown key `quiet_period_secs`"),
])
def test_bad_mediation_values_are_named_with_the_fix(mediation, says):
    assert any(p.startswith(says) for p in problems(mediation)), problems(mediation)


def test_a_reminder_may_be_turned_off_and_the_timeout_too():
    m = load({"reminder_after_seconds": 0, "party_response_timeout_seconds": 0}).mediation
    assert (m.reminder_after_seconds, m.party_response_timeout_seconds) == (0, 0)
