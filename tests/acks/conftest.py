"""Acknowledgement fixtures: a third solver, and the steps that feed a solver's reply to
Serbero as a worker would (the over-the-relay tests go through the listener instead)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from serbero import clock
from serbero.acks import inbox
from tests.conftest import Driver, _inbox


@pytest.fixture
def solver_cy(nostr_loop: Any, relay: str) -> Any:
    """A third solver (read)."""
    yield from _inbox(nostr_loop, relay, "cy")


class AckDriver(Driver):
    def reply(self, nostr_loop: Any, solver: Any, text: str, *, form: str = "mostro-v2",
              dispute_id: str | None = None, now: int | None = None) -> inbox.Handled:
        """`solver` sends `text` to Serbero over the relay; Serbero applies it and publishes
        what follows."""
        event = nostr_loop.run(solver.reply(self.rt.settings.serbero_pubkey, text, form=form,
                                            dispute_id=dispute_id), 10)
        return self.apply(event.as_json(), now=now)

    def apply(self, raw: str, *, now: int | None = None) -> inbox.Handled:
        now = clock.now() if now is None else now
        handled = inbox.ingest(raw, settings=self.rt.settings, signer=self.rt.signer, now=now)
        self.publish(handled.outbox_ids, now)
        return handled


@pytest.fixture
def acks(runtime: Any) -> AckDriver:
    return AckDriver(runtime)


def settle(nostr_loop: Any, seconds: float = 0.3) -> None:
    """Give the relay time to deliver anything that should NOT arrive."""
    nostr_loop.run(asyncio.sleep(seconds), seconds + 5)
