"""A scripted model provider: a real HTTP server on loopback speaking the OpenAI-compatible
chat-completions API, answering each request from a script (a function of what was asked: the
purpose, the dispute, the transcript lines of the prompt). Serbero's adapter under test is the
real one; only the far side of the socket is scripted.

Test support for the suite, the benchmark and `serbero demo --mediation`; never used by the
daemon. No model weights exist anywhere here.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLASSIFY, SUMMARIZE, HEALTH = "classify", "summarize", "health"
_DISPUTE = re.compile(r"^dispute_id: (\S+)$", re.MULTILINE)
_SESSION = re.compile(r"^session_id: (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Asked:
    """One request as the script sees it. `transcript` holds the prompt's transcript lines
    (`[<ts>] buyer: …`); `text` is everything the parties said, joined, for easy matching."""

    purpose: str
    dispute_id: str | None
    session_id: str | None
    transcript: tuple[str, ...]
    prompt: str = field(repr=False)

    @property
    def text(self) -> str:
        return "\n".join(self.transcript)

    def said_by(self, party: str) -> list[str]:
        return [line.split(f"] {party}: ", 1)[1] for line in self.transcript
                if f"] {party}: " in line]


@dataclass(frozen=True)
class Fail:
    """An HTTP error (`status`), or an answer held back `delay_s` first."""

    status: int = 503
    delay_s: float = 0.0


#: A script answers with a classification (a dict), a summary (a str), or a Fail.
Answer = dict[str, Any] | str | Fail
Script = Callable[[Asked], Answer]


def classification(action: str, *, label: str = "coordination_failure_resolvable",
                   confidence: float = 0.9, buyer: str | None = None, seller: str | None = None,
                   flags: tuple[str, ...] = (), human_requested: bool = False,
                   rationale: str = "scripted rationale", **languages: str) -> dict[str, Any]:
    """A verdict in the contract's shape (`buyer_language="es"` etc. as keyword arguments)."""
    doc: dict[str, Any] = {"classification": label, "confidence": confidence,
                           "suggested_action": action, "rationale": rationale,
                           "flags": list(flags), "human_requested": human_requested, **languages}
    if buyer is not None:
        doc["buyer_clarification"] = buyer
    if seller is not None:
        doc["seller_clarification"] = seller
    return doc


def summary(text: str, next_step: str, rationale: str = "scripted summary rationale") -> str:
    return f"{text}\nSUGGESTED_NEXT_STEP: {next_step}\nRATIONALE: {rationale}"


def _asked(body: Any) -> Asked:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    prompt = next((m.get("content", "") for m in reversed(messages)
                   if isinstance(m, dict) and m.get("role") == "user"), "")
    purpose = HEALTH if prompt.strip() == "ping" else (
        SUMMARIZE if "SUGGESTED_NEXT_STEP:" in prompt else CLASSIFY)
    section = prompt.split("## Transcript\n", 1)[1].split("\n## ", 1)[0] \
        if "## Transcript\n" in prompt else ""
    lines = tuple(line for line in section.splitlines() if line.startswith("["))
    dispute, session = _DISPUTE.search(prompt), _SESSION.search(prompt)
    return Asked(purpose, dispute.group(1) if dispute else None,
                 session.group(1) if session else None, lines, prompt)


class ScriptedModel:
    """Answers `POST …/chat/completions` from `script`; records what it was asked."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.asked: list[Asked] = []
        self._lock = threading.Lock()
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                model._answer(self, _asked(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def calls(self, purpose: str | None = None) -> list[Asked]:
        with self._lock:
            return [a for a in self.asked if purpose is None or a.purpose == purpose]

    def _answer(self, handler: BaseHTTPRequestHandler, asked: Asked) -> None:
        with self._lock:
            self.asked.append(asked)
        answer: Answer = "pong" if asked.purpose == HEALTH else self.script(asked)
        status, content = 200, None
        if isinstance(answer, Fail):
            if answer.delay_s:
                time.sleep(answer.delay_s)
            status = answer.status
        else:
            content = answer if isinstance(answer, str) else json.dumps(answer)
        doc: dict[str, Any] = {"error": {"message": "scripted failure"}} if status != 200 else {
            "id": "chatcmpl-scripted", "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(asked.prompt) // 4,
                      "completion_tokens": len(content or "") // 4}}
        data = json.dumps(doc).encode()
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
