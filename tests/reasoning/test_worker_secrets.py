"""Through a real dramatiq worker on the Redis broker, with DEBUG logging everywhere: a
classification and a health check on the `mediation` queue, then every log line and every
database row is scanned. The API key appears nowhere; party text and model output appear in no
log line above debug and in no row outside the rationale table (issue 7, invariant 6)."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from serbero.config import ReasoningFallback, Secret
from serbero.logs import LogfmtFormatter
from serbero.mediation import check
from serbero.reasoning import setup
from serbero.reasoning.models import ProviderHealth, ReasoningCall
from serbero.runtime import Runtime
from tests.reasoning.conftest import shipped_prompts
from tests.reasoning.endpoint import API_KEY, Seen, json_reply, openai_reply

PARTY_TEXT = [e.content for e in check.SAMPLE.transcript]
CLARIFICATION = "At what time did your bank show the transfer as sent?"
RATIONALE = "scripted-rationale-7f3a: the accounts are consistent with a delay"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(LogfmtFormatter())
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, self.format(record)))


@pytest.fixture
def debug_logs() -> Iterator[Capture]:
    root = logging.getLogger()
    capture, level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(capture)
    root.setLevel(level)


def refusing_echo(seen: Seen):
    """Provider A refuses the classification with a body echoing the prompt and the key, as a
    careless proxy might; it answers the ping."""
    content = seen.body["messages"][-1]["content"]
    if content == "ping":
        return openai_reply("pong")
    transcript = content.split("## Transcript\n", 1)[1][:300]
    return json_reply({"error": {"message": f"key {API_KEY} cannot send: {transcript}"}}, 400)


def answering(seen: Seen):
    content = seen.body["messages"][-1]["content"]
    if content == "ping":
        return openai_reply("pong")
    return openai_reply(json.dumps({
        "classification": "coordination_failure_resolvable", "confidence": 0.8,
        "suggested_action": "ask_clarification", "rationale": RATIONALE,
        "buyer_clarification": CLARIFICATION, "seller_clarification": CLARIFICATION}))


def _rows(db: Any) -> list[str]:
    out = []
    for table in db.get_tables():
        for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
            out.append(f"{table}: {row!r}")
    return out


def test_a_worker_classifying_leaks_no_key_and_no_party_text(broker, make_settings, db,
                                                             endpoint, endpoint_b, debug_logs):
    # Given a deployment whose primary provider echoes what it was sent, and a fallback
    base = make_settings(db_url=db.url)
    reasoning = dataclasses.replace(
        base.reasoning, enabled=True, provider="openai-compatible", model="a",
        api_base=endpoint.url + "/v1", api_key=Secret(API_KEY),
        fallback=(ReasoningFallback(provider="openai-compatible", model="b",
                                    api_base=endpoint_b.url + "/v1", api_key_env="TEST_KEY",
                                    api_key=Secret(API_KEY)),))
    settings = base.replace(reasoning=reasoning, prompts=shipped_prompts(),
                            mediation=dataclasses.replace(base.mediation, enabled=True))
    endpoint.script(refusing_echo)
    endpoint_b.script(answering)
    from serbero_workers import mediation
    from serbero_workers.wiring import install_runtime

    rt = Runtime.open(settings)
    install_runtime(rt)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50, queues={"mediation"})
    worker.start()
    try:
        # When the background health check and a check with a classification run on workers
        mediation.run_mediation_tick.send("reasoning_health", 1)
        check_id = uuid.uuid4().hex
        mediation.run_reasoning_check.send(check_id)
        deadline = time.monotonic() + 15
        while (report := check.recorded(check_id)) is None:
            assert time.monotonic() < deadline, "no check report"
            time.sleep(0.05)
        broker.join("mediation", timeout=15_000)
        worker.join()
    finally:
        worker.stop()
        install_runtime(None)
        setup.forget()
        rt.close()

    # Then the work happened: health for both, A refused, B classified
    results = [check.ProviderCheck.from_dict(r) for r in report["results"]]
    assert [(r.model, r.outcome) for r in results] == [("a", "refused"), ("b", "ok")]
    assert results[1].decision == "ask_clarification"
    assert ProviderHealth.select().count() == 2
    assert ReasoningCall.select().where(ReasoningCall.origin == "check").count() == 4
    assert any("[redacted]" in s.body["messages"][-1]["content"] for s in endpoint_b.seen)
    # and the key is in no log line at any level, and in no row
    lines = debug_logs.lines
    assert any(level == logging.DEBUG for level, _ in lines)  # DEBUG really was on
    assert any("reasoning_call_failed_detail" in line for _, line in lines)
    for _, line in lines:
        assert API_KEY not in line
    rows = _rows(db)
    for row in rows:
        assert API_KEY not in row, row
    # and party text and model output are in no line above debug, and in no row
    secrets_of_parties = [*PARTY_TEXT, check.SAMPLE_NPUB, CLARIFICATION, RATIONALE]
    for level, line in lines:
        if level > logging.DEBUG:
            for text in secrets_of_parties:
                assert text not in line and text[:24] not in line, line
    for row in rows:
        for text in secrets_of_parties:
            assert text[:24] not in row, row
