"""Fixtures of the reasoning tests: scripted provider endpoints on loopback, the shipped prompt
bundle, a back-off that records its waits instead of sleeping, and chains built from them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from serbero.config import PromptsSection
from serbero.reasoning import bundle as bundle_files
from serbero.reasoning import providers
from serbero.reasoning.chain import ProviderChain
from serbero.reasoning.spec import ProviderSpec
from serbero.reasoning.transport import Backoff
from tests.reasoning.endpoint import Endpoint

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "config" / "prompts"


def shipped_prompts(directory: Path = PROMPTS_DIR) -> PromptsSection:
    """[prompts] pointing at the bundle in `directory` (the shipped one by default)."""
    return PromptsSection(**{key: str(directory / Path(getattr(PromptsSection(), key)).name)
                             for _, key in bundle_files.FIELDS})


@pytest.fixture
def bundle() -> bundle_files.PromptBundle:
    return bundle_files.load(shipped_prompts())


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.close()


@pytest.fixture
def endpoint_b() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.close()


class RecordedWaits(list):
    """The waits a Backoff asked for, in seconds; nothing actually sleeps."""


@pytest.fixture
def waits() -> RecordedWaits:
    return RecordedWaits()


@pytest.fixture
def no_sleep(waits: RecordedWaits) -> Backoff:
    return Backoff(sleep=waits.append, random=lambda: 0.5)


@pytest.fixture
def make_chain(db: Any, no_sleep: Backoff) -> Iterator[Callable[..., ProviderChain]]:
    """`make_chain(spec, …)`: a chain of real adapters over the given specs, recording to the
    test database, never sleeping between attempts."""
    chains: list[ProviderChain] = []

    def make(*specs: ProviderSpec, interval_s: int = 120, now: Callable[[], int] | None = None,
             **kw: Any) -> ProviderChain:
        extra = {"now": now} if now else {}
        chain = ProviderChain([providers.build(s, backoff=no_sleep) for s in specs],
                              health_interval_s=interval_s, **extra, **kw)
        chains.append(chain)
        return chain
    yield make
    for chain in chains:
        chain.close()
