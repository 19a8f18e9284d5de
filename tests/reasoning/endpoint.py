"""A model provider stand-in: a real HTTP server on loopback that answers each POST from a
per-test script and records every request (path, headers, parsed body). The adapters under
test are the real ones; only the far side of the socket is scripted."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from serbero.config import Secret
from serbero.reasoning.spec import ProviderSpec

API_KEY = "sk-test-0123456789abcdefSECRET"


@dataclass
class Reply:
    """One scripted answer. `truncate_to` sends only that many body bytes of a longer declared
    length, then closes; `stream_bytes` sends that many bytes with no length, then closes;
    `delay_s` waits before answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    truncate_to: int | None = None
    stream_bytes: int | None = None


def json_reply(doc: Any, status: int = 200, *, headers: dict[str, str] | None = None,
               **kw: Any) -> Reply:
    return Reply(status, json.dumps(doc).encode(),
                 {"content-type": "application/json", **(headers or {})}, **kw)


def openai_reply(content: str | None, *, prompt_tokens: int = 120,
                 completion_tokens: int = 30) -> Reply:
    return json_reply({"id": "chatcmpl-1", "object": "chat.completion",
                       "choices": [{"index": 0, "message": {"role": "assistant",
                                                            "content": content},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": prompt_tokens,
                                 "completion_tokens": completion_tokens}})


def anthropic_reply(*blocks: dict[str, Any], input_tokens: int = 110,
                    output_tokens: int = 25) -> Reply:
    return json_reply({"id": "msg_1", "type": "message", "role": "assistant",
                       "content": list(blocks),
                       "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}})


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


Script = Callable[[Seen], Reply]


class Endpoint:
    """Answers from `script` (a list consumed in order, or a function of the request)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._replies: list[Reply] = []
        self._fn: Script | None = None
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                            body)
                reply = endpoint._next(seen)
                endpoint._answer(self, reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *replies: Reply | Script) -> Endpoint:
        with self._lock:
            if len(replies) == 1 and callable(replies[0]):
                self._fn = replies[0]
            else:
                self._replies = list(replies)  # type: ignore[arg-type]
        return self

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            if self._fn is not None:
                return self._fn(seen)
            if not self._replies:
                return json_reply({"error": "script exhausted"}, status=599)
            return self._replies.pop(0)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay_s:
            time.sleep(reply.delay_s)
        try:
            handler.send_response(reply.status)
            for k, v in reply.headers.items():
                handler.send_header(k, v)
            if reply.stream_bytes is not None:
                handler.send_header("connection", "close")
                handler.end_headers()
                chunk = b"x" * 65536
                sent = 0
                while sent < reply.stream_bytes:
                    handler.wfile.write(chunk)
                    sent += len(chunk)
                handler.close_connection = True
                return
            handler.send_header("content-length", str(len(reply.body)))
            if reply.truncate_to is not None:
                handler.send_header("connection", "close")
            handler.end_headers()
            if reply.truncate_to is not None:
                handler.wfile.write(reply.body[:reply.truncate_to])
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spec(self, provider: str = "openai-compatible", *, model: str = "test-model",
             path: str = "/v1", timeout_s: float = 2.0, attempts: int = 1, position: int = 0,
             key: str = API_KEY, usd_in: float = 0.0, usd_out: float = 0.0) -> ProviderSpec:
        """A provider spec pointing here (timeouts below the configuration's 1 s floor are
        allowed, so timeout tests stay fast)."""
        return ProviderSpec(provider=provider, model=model, api_base=self.url + path,
                            api_key_env="TEST_KEY", api_key=Secret(key), timeout_s=timeout_s,
                            attempts=attempts, usd_per_million_input_tokens=usd_in,
                            usd_per_million_output_tokens=usd_out, position=position)
