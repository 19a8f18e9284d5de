"""`serbero reasoning check` and `serbero reasoning eval`: try the configured model providers
before enabling mediation. Both record their calls (origin `check` / `eval`) like any other, so
their cost shows in the metrics; neither touches a dispute.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import click

from serbero.cli import cli, config_option, domain_errors, load_settings, needs_redis, open_db

if TYPE_CHECKING:
    from serbero.mediation.check import ProviderCheck
    from serbero.reasoning.setup import Reasoning

#: How often `check --on-worker` looks for the worker's report (seconds).
POLL_S = 0.5


@cli.group()
def reasoning() -> None:
    """Try the reasoning providers: health, a sample verdict, labelled cases."""


def _bring_up(config_path: Path | None) -> Reasoning:
    """The bundle and the chain from the configuration, enabled or not; the database opened
    (and migrated) so that every call is recorded."""
    from serbero.reasoning import bundle
    from serbero.reasoning.setup import Reasoning, build_chain

    settings = load_settings(config_path)
    open_db(settings)
    return Reasoning(bundle.load(settings.prompts), build_chain(settings))


def _print_checks(results: list[ProviderCheck]) -> bool:
    """Print each provider's report; True when all passed."""
    for i, r in enumerate(results, 1):
        click.echo(f"provider {i}/{len(results)}  {r.provider}:{r.model}  {r.endpoint}")
        health = (f"ok ({r.health_ms} ms)" if r.health == "ok"
                  else f"FAILED {r.health}: {r.health_error}")
        click.echo(f"  health check:   {health}")
        if r.outcome != "ok":
            detail = f": {r.error_detail}" if r.error_detail else ""
            click.echo(f"  classification: FAILED {r.outcome}: {r.error}{detail}")
            continue
        tokens = f"{r.input_tokens if r.input_tokens is not None else '?'} in / " \
                 f"{r.output_tokens if r.output_tokens is not None else '?'} out tokens"
        click.echo(f"  classification: ok ({r.latency_ms} ms, {tokens})")
        flags = ", ".join(r.flags) or "none"
        click.echo(f"  verdict:        {r.classification}, confidence {r.confidence:.2f}, "
                   f"flags: {flags}, suggested action: {r.action}")
        trigger = f" (trigger {r.trigger})" if r.trigger else ""
        click.echo(f"  decision:       {r.decision}{trigger}")
    failed = sum(not r.ok for r in results)
    click.echo("result: every provider answered" if not failed
               else f"result: {failed} of {len(results)} provider(s) failed")
    return not failed


@reasoning.command("check")
@config_option
@click.option("--on-worker", is_flag=True,
              help="Run the check on a `mediation` worker (its environment, its network) and "
                   "print its report; needs Redis.")
@click.option("--timeout", "timeout_s", default=120.0, show_default=True,
              type=click.FloatRange(1, 3600), help="With --on-worker: seconds to wait.")
@domain_errors
def check_command(config_path: Path | None, on_worker: bool, timeout_s: float) -> None:
    """Health-check every configured provider and classify a built-in sample transcript with
    each, printing latency, tokens, the verdict and the policy decision; exit 1 if any fails.

    \b
    Example:
        serbero reasoning check -c config.toml
        serbero reasoning check --on-worker
    """
    from serbero.mediation import check

    if on_worker:
        settings = load_settings(config_path)
        needs_redis(settings, "reasoning check --on-worker")
        open_db(settings)
        from serbero_workers import wiring

        check_id = uuid.uuid4().hex
        wiring.install(settings).get_actor("run_reasoning_check").send(check_id)
        click.echo(f"check {check_id} enqueued on the mediation queue; waiting for a worker")
        deadline = time.monotonic() + timeout_s
        while (report := check.recorded(check_id)) is None:
            if time.monotonic() > deadline:
                raise click.ClickException(f"no worker reported within {timeout_s:g}s; is a "
                                           "worker consuming the mediation queue?")
            time.sleep(POLL_S)
        if "error" in report:
            raise click.ClickException(f"the worker could not bring reasoning up: "
                                       f"{report['error']}")
        results = [check.ProviderCheck.from_dict(d) for d in report["results"]]
    else:
        brought_up = _bring_up(config_path)
        b = brought_up.bundle
        click.echo(f"prompt bundle {b.bundle_id}, policy_hash {b.policy_hash}")
        try:
            results = check.run(brought_up)
        finally:
            brought_up.chain.close()
    if not _print_checks(results):
        raise SystemExit(1)


@reasoning.command("eval")
@config_option
@click.argument("cases", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@domain_errors
def eval_command(config_path: Path | None, cases: tuple[Path, ...]) -> None:
    """Run labelled cases (JSON files, or directories of them) through the configured
    providers and the policy; print accuracy per label, escalation recall on fraud and
    conflict cases, guard hits, errors, tokens, cost and latency.

    \b
    Example:
        serbero reasoning eval tests/fixtures/reasoning_cases/
    """
    from serbero.mediation import cases as case_files

    loaded = case_files.load(list(cases))
    brought_up = _bring_up(config_path)
    try:
        report = case_files.run(brought_up, loaded)
    finally:
        brought_up.chain.close()
    chain = ", ".join(f"{s.provider}:{s.model}" for s in brought_up.chain.specs)
    click.echo(f"{len(loaded)} cases, providers: {chain}")
    click.echo(f"{'label':34} right / cases")
    for label, (right, total) in report.per_label.items():
        click.echo(f"{label:34} {right:5} / {total:<5} {right / total:6.1%}")
    n = len(report.results)
    click.echo(f"label accuracy:    {report.label_accuracy:.1%} of {n}")
    click.echo(f"decision accuracy: {report.decision_accuracy:.1%} of {n}")
    hit, of = report.escalation_recall
    recall = f"{hit}/{of} ({hit / of:.1%})" if of else "no such cases"
    click.echo(f"escalation recall on {' and '.join(case_files.MUST_ESCALATE)}: {recall}")
    click.echo(f"guard hits:        {report.guard_hits}")
    errors = ", ".join(f"{k}={v}" for k, v in sorted(report.errors.items())) or "none"
    click.echo(f"errors:            {errors}")
    tokens_in, tokens_out = report.tokens
    click.echo(f"tokens:            {tokens_in} in / {tokens_out} out")
    priced = all(s.priced for s in brought_up.chain.specs)
    click.echo(f"cost:              ${report.cost_usd:.4f}" if priced else
               "cost:              n/a (set usd_per_million_input_tokens and "
               "usd_per_million_output_tokens in [reasoning])")
    latency = report.latency_ms
    if latency:
        click.echo(f"latency:           median {latency[0]:.0f} ms, p95 {latency[1]:.0f} ms")
    misses = [r for r in report.results if not (r.label_ok and r.decision_ok)]
    for r in misses:
        got = r.error_category or f"{r.label} → {r.decision}" + (
            f" ({r.trigger})" if r.trigger else "")
        click.echo(f"  miss {r.case.id}: expected {r.case.expected_label} → "
                   f"{r.case.expected_decision}, got {got}")
    if all(r.error_category for r in report.results):
        raise click.ClickException("no case got an answer from any provider; run "
                                   "`serbero reasoning check`")
