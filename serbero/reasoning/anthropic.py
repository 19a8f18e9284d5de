"""The Anthropic Messages adapter (`POST …/v1/messages`, RP-10…RP-13): exact request bodies,
the text of every `text` content block joined in order; knows nothing of prompts or verdicts."""

from __future__ import annotations

from typing import Any

from serbero.errors import ReasoningError
from serbero.reasoning.spec import ProviderSpec
from serbero.reasoning.transport import MALFORMED, REFUSED, JsonPoster
from serbero.reasoning.types import (
    PURPOSE_CLASSIFY,
    PURPOSE_HEALTH,
    PURPOSE_SUMMARIZE,
    TEMPERATURE,
    Completion,
)

API_VERSION = "2023-06-01"
#: RP-12: output budget per purpose, in tokens.
MAX_TOKENS = {PURPOSE_CLASSIFY: 2048, PURPOSE_SUMMARIZE: 4096, PURPOSE_HEALTH: 8}


def messages_url(api_base: str) -> str:
    """RP-10: one trailing `/v1` is folded, so the bare host, `…/` and `…/v1` all work."""
    base = api_base.rstrip("/")
    base = base.removesuffix("/v1")
    return base + "/v1/messages"


def request_body(model: str, purpose: str, system: str | None, prompt: str) -> dict[str, Any]:
    """RP-12; there is no JSON mode, the prompt asks for JSON."""
    body: dict[str, Any] = {"model": model, "max_tokens": MAX_TOKENS[purpose]}
    if system is not None:
        body["system"] = system
    body["messages"] = [{"role": "user", "content": prompt}]
    body["temperature"] = TEMPERATURE[purpose]
    return body


def content_text(data: Any) -> str:
    """RP-13: concatenate `text` blocks in order, skip other block types; a text block without
    a string `text`, or no text block at all, is malformed."""
    if isinstance(data, dict) and (data.get("type") == "error" or "error" in data):
        raise ReasoningError(REFUSED, "anthropic: HTTP 2xx carrying an error object",
                             detail=repr(data.get("error"))[:200])
    blocks = data.get("content") if isinstance(data, dict) else None
    if not isinstance(blocks, list):
        raise ReasoningError(MALFORMED, "anthropic: no content array in the response")
    texts = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "text":
            if not isinstance(block.get("text"), str):
                raise ReasoningError(MALFORMED, "anthropic: text block without text")
            texts.append(block["text"])
    if not texts:
        raise ReasoningError(MALFORMED, "no text block in anthropic response")
    return "".join(texts)


class Anthropic:
    def __init__(self, spec: ProviderSpec, poster: JsonPoster) -> None:
        self.spec = spec
        self.poster = poster
        self.url = messages_url(spec.api_base)

    def complete(self, purpose: str, system: str | None, prompt: str) -> Completion:
        key = self.spec.api_key.reveal() if self.spec.api_key else ""
        headers = {"x-api-key": key, "anthropic-version": API_VERSION}
        return self.poster.complete(self.url, headers,
                                    request_body(self.spec.model, purpose, system, prompt),
                                    text_of=content_text,
                                    token_keys=("input_tokens", "output_tokens"))

    def close(self) -> None:
        self.poster.close()
