"""The OpenAI-compatible adapter (`POST <api_base>/chat/completions`, RP-6…RP-9): OpenAI, vLLM,
llama.cpp server, Ollama, LiteLLM proxies, PPQ.ai. Builds the exact request bodies and reads
`choices[0].message.content`; knows nothing of prompts or verdicts."""

from __future__ import annotations

from typing import Any

from serbero.errors import ReasoningError
from serbero.reasoning.spec import ProviderSpec
from serbero.reasoning.transport import MALFORMED, REFUSED, JsonPoster
from serbero.reasoning.types import PURPOSE_CLASSIFY, TEMPERATURE, Completion


def chat_url(api_base: str) -> str:
    """RP-6: no `/v1` is added (OpenAI's base already ends in it; PPQ.ai's bare host does not)."""
    return api_base.rstrip("/") + "/chat/completions"


def request_body(model: str, purpose: str, system: str | None, prompt: str) -> dict[str, Any]:
    """RP-8. Models named gpt-5… reject a temperature, so it is left out for them."""
    messages = [{"role": "user", "content": prompt}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if purpose == PURPOSE_CLASSIFY:
        body["response_format"] = {"type": "json_object"}
    if not model.startswith("gpt-5"):
        body["temperature"] = TEMPERATURE[purpose]
    return body


def completion_text(data: Any) -> str:
    """RP-9: the first choice's message content; an error object or any other shape is an
    error, never an empty answer."""
    if isinstance(data, dict) and "error" in data and "choices" not in data:
        raise ReasoningError(REFUSED, "openai: HTTP 2xx carrying an error object",
                             detail=repr(data.get("error"))[:200])
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ReasoningError(MALFORMED, "openai: empty choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise ReasoningError(MALFORMED, "openai: empty choices (no message content)")
    return content


class OpenAICompatible:
    def __init__(self, spec: ProviderSpec, poster: JsonPoster) -> None:
        self.spec = spec
        self.poster = poster
        self.url = chat_url(spec.api_base)

    def complete(self, purpose: str, system: str | None, prompt: str) -> Completion:
        key = self.spec.api_key.reveal() if self.spec.api_key else ""
        return self.poster.complete(self.url, {"authorization": f"Bearer {key}"},
                                    request_body(self.spec.model, purpose, system, prompt),
                                    text_of=completion_text,
                                    token_keys=("prompt_tokens", "completion_tokens"))

    def close(self) -> None:
        self.poster.close()
