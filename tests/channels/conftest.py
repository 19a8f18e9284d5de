"""Fixtures for the channel tests: solvers and a watchdog that read Serbero's messages the way
Mostrix and mostro-watchdog do (trusting Serbero's key), on the test relay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.channels.mostrix import MostrixInbox


@pytest.fixture
def mostrix(nostr_loop: Any, relay: str, serbero_keys: Any) -> Iterator[Callable[[], Any]]:
    """`mostrix(keys=None)`: a Mostrix client on the relay with Serbero's key in its
    `trusted_dm_senders`."""
    made: list[MostrixInbox] = []

    def make(keys: Any = None) -> MostrixInbox:
        inbox = nostr_loop.run(MostrixInbox([serbero_keys.public_key().to_hex()], keys)
                               .connect(relay), 10)
        made.append(inbox)
        return inbox
    yield make
    for inbox in made:
        nostr_loop.run(inbox.shutdown(), 10)
