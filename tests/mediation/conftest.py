"""The mediation tests use the reasoning tests' scripted endpoints and bundle, and, for sessions,
the harness of `harness.py`: a scripted model on loopback, a clock the test moves, and Serbero's
runtime on the test database with the node announcing Serbero's key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nostr_sdk import Keys

from serbero.reasoning import bundle as bundle_files
from serbero.simulators.model import Answer, Asked, Fail, ScriptedModel
from tests.mediation.harness import Clock, Mediation, Relays
from tests.reasoning.conftest import (  # noqa: F401 - fixtures
    bundle,
    endpoint,
    endpoint_b,
    make_chain,
    no_sleep,
    shipped_prompts,
    waits,
)

MODEL_KEY_ENV = "SERBERO_TEST_MODEL_KEY"


class Scripts:
    """Answers per dispute, in order; the last one repeats (so one `Fail()` is a model that
    is down for the whole session). A dispute without a script gets `default`."""

    def __init__(self) -> None:
        self.by_dispute: dict[str, list[Answer]] = {}
        self.default: Answer = Fail(599)

    def on(self, dispute_id: str, *answers: Answer) -> None:
        self.by_dispute.setdefault(dispute_id, []).extend(answers)

    def __call__(self, asked: Asked) -> Answer:
        queue = self.by_dispute.get(asked.dispute_id or "", [])
        if not queue:
            return self.default
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def scripts() -> Scripts:
    return Scripts()


@pytest.fixture
def model(scripts: Scripts) -> Iterator[ScriptedModel]:
    served = ScriptedModel(scripts)
    yield served
    served.close()


def mediation_sections(api_base: str, prompts_dir: Path | None = None,
                       **mediation: Any) -> dict[str, Any]:
    """Configuration sections that turn mediation on against the scripted model."""
    prompts = shipped_prompts(prompts_dir) if prompts_dir else shipped_prompts()
    return {
        "mediation": {"enabled": True, **mediation},
        "reasoning": {"enabled": True, "provider": "openai-compatible", "model": "scripted",
                      "api_base": api_base, "api_key_env": MODEL_KEY_ENV,
                      "request_timeout_seconds": 2, "followup_retry_count": 0},
        "prompts": {key: getattr(prompts, key) for _, key in bundle_files.FIELDS},
        "escalation": {"enabled": True, "dispatch_interval_seconds": 5},
    }


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock every Serbero module reads (`serbero.clock.now`), moved by the test."""
    from serbero import clock as serbero_clock

    c = Clock(int(time.time()))
    monkeypatch.setattr(serbero_clock, "now", c)
    return c


@pytest.fixture
def node_keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def ana() -> Keys:
    """A solver with write permission."""
    return Keys.generate()


@pytest.fixture
def bo() -> Keys:
    """A solver with read permission."""
    return Keys.generate()


@pytest.fixture
def make_mediation(make_settings: Callable[..., Any], db: Any, serbero_keys: Keys,
                   model: ScriptedModel, clock: Clock, node_keys: Keys, ana: Keys,
                   bo: Keys) -> Iterator[Callable[..., Mediation]]:
    """`make_mediation(**[mediation] keys)`: Serbero's runtime on the test database with
    mediation on, Ana (write) and Bo (read) as solvers, the node's info event announcing
    Serbero's key, and a relay stand-in; a second call is a restart on the same database."""
    from serbero.mostro import info
    from serbero.nostr.relays import RelayBridge
    from serbero.reasoning import setup
    from serbero.runtime import Runtime
    from tests.conftest import via

    made: list[Any] = []

    def make(*, prompts_dir: Path | None = None, relays: list[str] | None = None,
             **mediation: Any) -> Mediation:
        settings = make_settings(
            relays=relays, mostro=node_keys.public_key().to_hex(),
            solvers=[ana.public_key().to_hex(), bo.public_key().to_hex()], db_url=db.url,
            sections=mediation_sections(model.api_base, prompts_dir, **mediation),
            env={MODEL_KEY_ENV: "sk-test-key"})
        info.record(info.NodeInfo(
            node_pubkey=settings.mostro_pubkey, event_id="1" * 64, created_at=clock() - 60,
            protocol_version=2, pow=0, pow_first_contact=0, mostro_version="0.19.2",
            serbero_tag=settings.serbero_pubkey), now=clock())
        stand_in = Relays()
        rt = Runtime(settings=settings, signer=serbero_keys, db=db,
                     relay=RelayBridge(settings.relays), channels=via(stand_in))
        made.append(rt)
        return Mediation(rt, clock, node_keys, stand_in)

    yield make
    setup.forget()
    for rt in made:
        rt.relay.close()


@pytest.fixture
def med(make_mediation: Callable[..., Mediation]) -> Mediation:
    return make_mediation()
