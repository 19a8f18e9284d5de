"""Tier fixtures: a runtime with `[[notifications.tiers]]` on the test relay, three solvers, and
quiet hours that cover the present moment (the chain's steps take the clock as an argument)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from serbero import clock
from tests.acks.conftest import AckDriver, solver_cy  # noqa: F401 - the fixture, shared

CHAIN = [{"audience": "assigned", "wait_seconds": 300, "repeat": 2},
         {"audience": "all", "wait_seconds": 600}]


def quiet_now(now: int | None = None) -> dict[str, str]:
    """A window, in UTC, from an hour before `now` to an hour after."""
    at = datetime.fromtimestamp(clock.now() if now is None else now, UTC)
    return {"tz": "UTC", "from": (at - timedelta(hours=1)).strftime("%H:%M"),
            "to": (at + timedelta(hours=1)).strftime("%H:%M")}


def solver(inbox: Any, permission: str = "read", **more: Any) -> dict[str, Any]:
    return {"pubkey": inbox.pubkey, "permission": permission, **more}


@pytest.fixture
def tiered(make_runtime: Any) -> Any:
    """`tiered(solvers=[...], tiers=CHAIN, observers=[...])`: an AckDriver on such a runtime."""
    def make(*, solvers: list[Any], tiers: list[dict[str, Any]] = CHAIN, **more: Any) -> Any:
        rt = make_runtime(solvers=solvers, sections={"notifications": {
            "format": "mostro-v2", "tiers": tiers}}, **more)
        return AckDriver(rt)
    return make
