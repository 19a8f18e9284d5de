"""A webhook endpoint for tests: a real HTTP server on a loopback port that records every POST
and answers from a script, one step per request: a status code, ("sleep", seconds) before a
200, or ("redirect", location). When the script runs out it answers 200."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    #: What the server answered (0 if the client gave up first).
    status: int


class ScriptedWebhook:
    def __init__(self, script: list[Any] | None = None,
                 on_request: Callable[[], None] | None = None) -> None:
        self.script = list(script or [])
        self.on_request = on_request
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if server.on_request is not None:
                    server.on_request()
                with server._lock:
                    step = server.script.pop(0) if server.script else 200
                status = step if isinstance(step, int) else 200
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                if isinstance(step, tuple) and step[0] == "redirect":
                    status = 302
                with server._lock:
                    server.seen.append(Seen(self.path, {k.lower(): v for k, v in
                                                        self.headers.items()}, body, status))
                try:
                    self.send_response(status)
                    if status == 302:
                        self.send_header("Location", step[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def delivered(self) -> dict[str, int]:
        """Idempotency key → how many times the server answered 2xx for it."""
        counts: dict[str, int] = {}
        for seen in self.seen:
            if 200 <= seen.status < 300:
                key = seen.headers["idempotency-key"]
                counts[key] = counts.get(key, 0) + 1
        return counts

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
