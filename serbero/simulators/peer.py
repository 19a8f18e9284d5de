"""What every simulated relay peer shares: its client and the task reading its notifications."""

from __future__ import annotations

import asyncio
import contextlib

from nostr_sdk import Client


class ListeningPeer:
    """A relay client with one task consuming its notification stream; `shutdown` stops both."""

    client: Client | None = None
    _task: asyncio.Task[None] | None = None

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.client is not None:
            await self.client.shutdown()
