"""Provider selection (RP-1, TST-P3-NYI, TST-RA-UNKNOWN) and building a chain from settings."""

from __future__ import annotations

import pytest

from serbero.config import Secret
from serbero.errors import ConfigError, ReasoningError
from serbero.reasoning import providers
from serbero.reasoning.anthropic import Anthropic
from serbero.reasoning.openai_compat import OpenAICompatible
from serbero.reasoning.spec import ProviderSpec


def spec(provider: str, *, key: str | None = "k") -> ProviderSpec:
    return ProviderSpec(provider=provider, model="m", api_base="http://127.0.0.1:9/v1",
                        api_key_env="VAR", api_key=Secret(key) if key else None, timeout_s=1,
                        attempts=1)


@pytest.mark.parametrize(("name", "adapter"), [("openai", OpenAICompatible),
                                               ("openai-compatible", OpenAICompatible),
                                               ("anthropic", Anthropic)])
def test_shipped_names_build_their_adapter(name, adapter):
    built = providers.build(spec(name))
    assert isinstance(built, adapter)
    built.close()


@pytest.mark.parametrize("name", ["ppqai", "openclaw"])
def test_declared_names_build_and_every_call_is_unreachable(name):
    built = providers.build(spec(name, key=None))  # no key needed: nothing is ever sent
    with pytest.raises(ReasoningError) as info:
        built.complete("health", None, "ping")
    message = str(info.value)
    assert info.value.category == "unreachable"
    assert f"'{name}'" in message and "openai-compatible" in message and "future work" in message


def test_an_unknown_name_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="unknown reasoning provider 'gemini'"):
        providers.build(spec("gemini"))


def test_a_shipped_provider_without_a_key_names_the_variable():
    with pytest.raises(ConfigError, match="`VAR`"):
        providers.build(spec("openai", key=None))
