"""Configuration of the reasoning layer: `[reasoning]`, `[[reasoning.fallback]]`, `[prompts]`,
and the keys from the environment (CFG-9); bad values are `config error:` lines."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from serbero import config
from serbero.errors import ConfigError
from serbero.reasoning import bundle as bundle_files
from serbero.reasoning.spec import chain_specs

BASE: dict[str, Any] = {
    "serbero": {"private_key": "1" * 64},
    "mostro": {"pubkey": "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
    "relays": [{"url": "wss://relay.example"}],
}


def load(reasoning: dict[str, Any], env: dict[str, str] | None = None) -> config.Settings:
    return config.from_mapping({**BASE, "reasoning": reasoning}, env or {})


def problems(reasoning: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(reasoning, env)
    return info.value.problems


def test_the_rust_keys_still_load_and_the_key_comes_from_the_environment():
    s = load({"enabled": True, "provider": "anthropic", "model": "claude-x",
              "api_base": "https://api.anthropic.com", "api_key_env": "MY_KEY",
              "request_timeout_seconds": 0, "followup_retry_count": 2, "api_key": "ignored"},
             {"MY_KEY": "  sk-live  "})
    assert s.reasoning.api_key.reveal() == "sk-live" and "sk-live" not in repr(s)
    primary, = chain_specs(s.reasoning)
    assert (primary.timeout_s, primary.attempts) == (1.0, 3)  # RP-3 floor, RP-4


def test_fallback_entries_keep_their_order_and_their_own_keys():
    s = load({"api_key_env": "A", "fallback": [
        {"provider": "anthropic", "model": "claude-x", "api_base": "https://api.anthropic.com",
         "api_key_env": "B"},
        {"model": "llama", "api_base": "http://127.0.0.1:8080/v1", "api_key_env": "C",
         "request_timeout_seconds": 60, "followup_retry_count": 0}]},
        {"A": "ka", "B": "kb", "C": "kc"})
    specs = chain_specs(s.reasoning)
    assert [(x.provider, x.model, x.position, x.api_key.reveal()) for x in specs] == [
        ("openai", "gpt-4o-mini", 0, "ka"), ("anthropic", "claude-x", 1, "kb"),
        ("openai-compatible", "llama", 2, "kc")]
    assert (specs[2].timeout_s, specs[2].attempts) == (60.0, 1)


def test_a_key_file_named_by_api_key_env_file_is_read(tmp_path: Path):
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    os.chmod(key_file, 0o600)
    s = load({"enabled": True}, {"SERBERO_REASONING_API_KEY_FILE": str(key_file)})
    assert s.reasoning.api_key.reveal() == "sk-from-file"


@pytest.mark.parametrize(("reasoning", "env", "expected"), [
    ({"provider": "gemini"}, {}, "unknown reasoning provider 'gemini'"),
    ({"enabled": True}, {}, "credential env var `SERBERO_REASONING_API_KEY`"),
    ({"enabled": True, "api_key_env": "  "}, {}, "api_key_env is empty"),
    ({"api_base": "api.openai.com/v1"}, {}, "must be an http:// or https:// URL"),
    ({"request_timeout_seconds": -1}, {}, "must not be negative"),
    ({"followup_retry_count": -2}, {}, "0..10"),
    ({"health_check_interval_seconds": 0}, {}, "positive"),
    ({"usd_per_million_input_tokens": -0.5}, {}, "must not be negative"),
    ({"fallback": {"model": "x"}}, {}, "must be an array of tables"),
    ({"fallback": [{"provider": "bard", "model": "x", "api_base": "https://x"}]}, {},
     "unknown reasoning provider 'bard'"),
    ({"fallback": [{"api_base": "https://x", "api_key_env": "B"}]}, {}, "#1.model: missing"),
    ({"fallback": [{"model": "x", "api_base": "ftp://x"}]}, {}, "http:// or https://"),
    ({"enabled": True, "fallback": [{"model": "x", "api_base": "https://x",
                                     "api_key_env": "B"}]},
     {"SERBERO_REASONING_API_KEY": "a"}, "[[reasoning.fallback]] #1: reasoning provider "
     "enabled but credential env var `B`"),
    ({"fallback": [{"model": "x", "api_base": "https://x", "api_key": "sk-in-file"}]}, {},
     "keys are never read from the file"),
    ({"fallback": [{"model": "x", "api_base": "https://x", "colour": "red"}]}, {},
     "unknown key `colour`"),
    ({"request_timeout_seconds": 120, "followup_retry_count": 3}, {},
     "longer than the 600s a mediation job may run"),
])
def test_bad_reasoning_settings_are_reported_by_key(reasoning, env, expected):
    assert any(expected in p for p in problems(reasoning, env)), problems(reasoning, env)


def test_every_problem_is_reported_at_once():
    found = problems({"provider": "x", "api_base": "nope", "request_timeout_seconds": -3})
    assert len(found) == 3


def test_prompts_default_to_the_bundle_installed_with_the_package():
    s = load({})
    checkout = Path(__file__).resolve().parents[2] / "config" / "prompts"
    for _, key in bundle_files.FIELDS:
        shipped = Path(getattr(s.prompts, key))
        assert shipped.is_absolute()
        assert shipped.read_bytes() == (checkout / shipped.name).read_bytes()


def test_relative_prompt_paths_are_taken_from_the_config_files_directory(tmp_path):
    prompts = {"system_instructions_path": "mine/system.md",
               "mediation_style_path": "/abs/style.md"}
    s = config.from_mapping({**BASE, "prompts": prompts}, {}, path=tmp_path / "serbero.toml")
    assert s.prompts.system_instructions_path == str(tmp_path / "mine" / "system.md")
    assert s.prompts.mediation_style_path == "/abs/style.md"


def test_the_sample_fallback_loads_once_uncommented():
    sample = (Path(__file__).parents[2] / "config" / "serbero.sample.toml").read_text()
    block = sample.split("# [[reasoning.fallback]]", 1)[1].split("\n\n", 1)[0]
    fallback = "[[reasoning.fallback]]" + "\n".join(
        line.removeprefix("# ") for line in block.split("\n"))
    doc = tomllib.loads(fallback)
    s = load({"fallback": doc["reasoning"]["fallback"]})
    assert [e.provider for e in s.reasoning.fallback] == ["anthropic"]
