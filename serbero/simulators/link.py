"""A TCP link to a relay that can be cut and restored on the same port: every connection
through it dropped and none accepted while it is cut, as when a relay goes down or the network
to it fails, while the relay itself (and what it stores) goes on. For tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import socket


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CuttableLink:
    def __init__(self, relay_url: str) -> None:
        self.target = int(relay_url.rsplit(":", 1)[1])
        self.port = _free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> CuttableLink:
        """Accept connections (again), on the same port."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def cut(self) -> None:
        """Drop every connection and refuse new ones until `open`."""
        for writer in list(self.writers):
            writer.close()
        self.writers.clear()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()
            self.writers.discard(sink)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
