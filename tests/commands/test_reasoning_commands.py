"""`serbero reasoning check` and `serbero reasoning eval`, run as commands against scripted
providers on loopback."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from serbero.cli import cli
from serbero.mediation import cases as case_files
from serbero.mediation.check import SAMPLE_NPUB
from tests.conftest import REDIS_URL
from tests.reasoning.conftest import PROMPTS_DIR
from tests.reasoning.endpoint import API_KEY, Seen, anthropic_reply, json_reply, openai_reply
from tests.reasoning.endpoint import text_block as block

CASES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "reasoning_cases"
ASK = {"classification": "coordination_failure_resolvable", "confidence": 0.74,
       "suggested_action": "ask_clarification", "rationale": "a bank delay",
       "buyer_clarification": "Which bank did you send the transfer from?",
       "seller_clarification": "Could you check your account again this afternoon?",
       "flags": ["low_info"]}


def write_config(tmp_path: Path, reasoning: str, *, prompts_dir: Path = PROMPTS_DIR) -> Path:
    prompts = "\n".join(f'{key} = "{prompts_dir / name}"' for key, name in [
        ("system_instructions_path", "phase3-system.md"),
        ("classification_policy_path", "phase3-classification.md"),
        ("escalation_policy_path", "phase3-escalation-policy.md"),
        ("mediation_style_path", "phase3-mediation-style.md"),
        ("message_templates_path", "phase3-message-templates.md")])
    path = tmp_path / "config.toml"
    path.write_text(f"""
[serbero]
private_key = "{'1' * 64}"
db_path = "{tmp_path / 'serbero.db'}"
[mostro]
pubkey = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
[[relays]]
url = "ws://127.0.0.1:9"
[[solvers]]
pubkey = "c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
permission = "write"
[reasoning]
{reasoning}
[prompts]
{prompts}
""")
    path.chmod(0o600)
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    env = {"SERBERO_REASONING_API_KEY": API_KEY, "SERBERO_DB_URL": "", **(env or {})}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def answer_openai(seen: Seen):
    content = seen.body["messages"][-1]["content"]
    return openai_reply("pong" if content == "ping" else json.dumps(ASK))


def test_check_prints_health_verdict_and_decision(tmp_path, endpoint):
    # Given a provider that answers the ping and the sample classification
    endpoint.script(answer_openai)
    config = write_config(tmp_path, f'provider = "openai-compatible"\nmodel = "m1"\n'
                                    f'api_base = "{endpoint.url}/v1"')
    # When the check runs
    result = run("reasoning", "check", "-c", str(config))
    # Then it prints each step and exits 0
    assert result.exit_code == 0, result.output
    out = result.output
    assert "provider 1/1  openai-compatible:m1" in out
    assert re.search(r"health check:\s+ok \(\d+ ms\)", out)
    assert "classification: ok" in out and "120 in / 30 out tokens" in out
    assert ("verdict:        coordination_failure_resolvable, confidence 0.74, "
            "flags: low_info") in out
    assert "decision:       ask_clarification" in out
    assert "result: every provider answered" in out
    # and the sample's npub never reached the provider
    prompt = endpoint.seen[1].body["messages"][1]["content"]
    assert SAMPLE_NPUB not in prompt and "[redacted]" in prompt


def test_check_exits_1_when_a_fallback_fails(tmp_path, endpoint, endpoint_b):
    endpoint.script(answer_openai)
    endpoint_b.script(*[json_reply({"type": "error", "error": {"type": "auth"}}, 401)] * 2)
    config = write_config(tmp_path, f"""provider = "openai"
model = "m1"
api_base = "{endpoint.url}/v1"
[[reasoning.fallback]]
provider = "anthropic"
model = "claude-x"
api_base = "{endpoint_b.url}"
api_key_env = "SERBERO_REASONING_API_KEY"
""")
    result = run("reasoning", "check", "-c", str(config))
    assert result.exit_code == 1
    assert "provider 2/2  anthropic:claude-x" in result.output
    assert "FAILED refused: anthropic http 401" in result.output
    assert "result: 1 of 2 provider(s) failed" in result.output


def test_check_names_a_missing_prompt_file(tmp_path, endpoint):
    config = write_config(tmp_path, f'api_base = "{endpoint.url}/v1"',
                          prompts_dir=tmp_path / "nowhere")
    result = run("reasoning", "check", "-c", str(config))
    assert result.exit_code == 1
    assert "[prompts].system_instructions_path: cannot read" in result.output
    assert endpoint.seen == []


def test_check_without_the_key_is_a_config_error(tmp_path, endpoint):
    config = write_config(tmp_path, f'api_base = "{endpoint.url}/v1"')
    result = run("reasoning", "check", "-c", str(config), env={"SERBERO_REASONING_API_KEY": ""})
    assert result.exit_code == 2 and "config error:" in result.output
    assert "SERBERO_REASONING_API_KEY" in result.output


def _answer_from_case(wrong: set[str]):
    """Answer each case as its file says it should be answered, except the `wrong` ones,
    which get a confident cooperative summary."""
    by_id = {c.id: c for c in case_files.load([CASES_DIR])}

    def answer(seen: Seen):
        prompt = seen.body["messages"][-1]["content"]
        if prompt == "ping":
            return anthropic_reply(block("pong"))
        case = by_id[re.search(r"^dispute_id: (.+)$", prompt, re.M).group(1)]
        doc: dict[str, Any] = {"classification": case.expected_label, "confidence": 0.9,
                               "rationale": "scripted", "flags": []}
        if case.id in wrong:
            doc |= {"classification": "coordination_failure_resolvable",
                    "suggested_action": "summarize"}
        elif case.expected_decision == "ask_clarification":
            doc |= {"suggested_action": "ask_clarification",
                    "buyer_clarification": "When did you send it?",
                    "seller_clarification": "Could you check your account?"}
        elif case.expected_decision == "summarize":
            doc |= {"suggested_action": "summarize"}
        else:
            doc["suggested_action"] = "escalate"
            trigger = case.expected_trigger
            doc["flags"] = {"fraud_indicator": ["fraud_risk"],
                            "conflicting_claims": ["conflicting_claims"]}.get(trigger, [])
            doc["human_requested"] = trigger == "human_requested"
        return anthropic_reply(block(json.dumps(doc)), input_tokens=1000, output_tokens=100)
    return answer


def test_eval_runs_the_shipped_cases_and_scores_them(tmp_path, endpoint):
    # Given a scripted model that gets every case right but two fraud cases
    endpoint.script(_answer_from_case({"en-05-edited-receipt", "pt-06-terceiro"}))
    config = write_config(tmp_path, f"""provider = "anthropic"
model = "claude-x"
api_base = "{endpoint.url}"
usd_per_million_input_tokens = 3.0
usd_per_million_output_tokens = 15.0""")
    # When the shipped cases are evaluated
    result = run("reasoning", "eval", "-c", str(config), str(CASES_DIR))
    # Then the report shows the misses in label accuracy, recall and cost
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("34 cases, providers: anthropic:claude-x")
    assert re.search(r"suspected_fraud\s+7 /\s*9", out)
    assert re.search(r"conflicting_claims\s+3 /\s*3", out)
    assert "label accuracy:    94.1% of 34" in out
    assert "escalation recall on suspected_fraud and conflicting_claims: 10/12 (83.3%)" in out
    assert "guard hits:        0" in out and "errors:            none" in out
    assert "tokens:            34000 in / 3400 out" in out
    assert "cost:              $0.1530" in out
    assert "miss en-05-edited-receipt: expected suspected_fraud → escalate, got " \
           "coordination_failure_resolvable → summarize" in out


def test_eval_refuses_a_malformed_case_file(tmp_path, endpoint):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "x", "initiator": "buyer", "transcript": [],
                               "expected": {"label": "guilty", "decision": "escalate"}}))
    config = write_config(tmp_path, f'api_base = "{endpoint.url}/v1"')
    result = run("reasoning", "eval", "-c", str(config), str(bad))
    assert result.exit_code == 1 and "expected.label" in result.output


def test_eval_fails_when_no_case_got_an_answer(tmp_path, endpoint):
    endpoint.script(lambda seen: json_reply({}, 403))
    config = write_config(tmp_path, f'api_base = "{endpoint.url}/v1"')
    one = CASES_DIR / "en-01-late-transfer.json"
    result = run("reasoning", "eval", "-c", str(config), str(one))
    assert result.exit_code == 1 and "errors:            refused=1" in result.output


@pytest.mark.parametrize("command", ["check", "eval"])
def test_reasoning_commands_have_help(command):
    result = CliRunner().invoke(cli, ["reasoning", command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_check_on_worker_prints_the_report_a_mediation_worker_recorded(tmp_path, endpoint,
                                                                      broker):
    # Given a worker on the mediation queue running this deployment's configuration
    import dramatiq

    from serbero import config as config_module
    from serbero.runtime import Runtime
    from serbero_workers.wiring import install_runtime

    endpoint.script(answer_openai)
    path = write_config(tmp_path, f'provider = "openai-compatible"\nmodel = "m1"\n'
                                  f'api_base = "{endpoint.url}/v1"')
    env = {"SERBERO_REASONING_API_KEY": API_KEY}
    rt = Runtime.open(config_module.load(path, environ=env))
    install_runtime(rt)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50, queues={"mediation"})
    worker.start()
    try:
        # When the operator asks for the check on a worker
        result = run("reasoning", "check", "--on-worker", "--timeout", "20", "-c", str(path),
                     env={"SERBERO_REDIS_URL": REDIS_URL})
    finally:
        worker.stop()
        install_runtime(None)
        rt.close()
    # Then the worker's report is printed
    assert result.exit_code == 0, result.output
    assert "enqueued on the mediation queue" in result.output
    assert "decision:       ask_clarification" in result.output
    assert len(endpoint.seen) == 2  # the worker made the calls, the command none


def test_check_on_worker_needs_redis(tmp_path, endpoint):
    path = write_config(tmp_path, f'api_base = "{endpoint.url}/v1"')
    result = run("reasoning", "check", "--on-worker", "-c", str(path),
                 env={"SERBERO_REDIS_URL": ""})
    assert result.exit_code == 2 and "SERBERO_REDIS_URL" in result.output
