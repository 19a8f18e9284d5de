"""`serbero escalate` and `serbero escalations list`: manual escalation and the list of handoffs.

A shell over `serbero/escalation/`: parse, validate, call it, print. The dispatch job is
enqueued on the `escalation` queue only after the handoff has committed; if that enqueue is
lost, the dispatcher's periodic scan finds the handoff anyway.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from serbero.cli import cli, config_option, domain_errors, load_settings, open_db, quiet_logging
from serbero.clock import utc_text


class PubkeyParam(click.ParamType):
    """A Nostr public key (hex or npub1…), checked before anything is read or written."""

    name = "PUBKEY"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from serbero.nostr.keys import parse_public_key

        try:
            parse_public_key(value)
        except ValueError:
            self.fail(f"{value!r} is not a Nostr public key; use 64 hex characters or npub1….",
                      param, ctx)
        return value




def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. an unnamed uid in a container)
        return "unknown"


@cli.command()
@config_option
@click.argument("dispute_id")
@click.option("--note", help="Why you escalate; kept in the audit row, its hash travels in "
              "the handoff.")
@click.option("--to", "to", multiple=True, type=PubkeyParam(),
              help="Send to this solver instead of the configured routing (repeat the option).")
@click.option("--again", is_flag=True, help="Send another handoff even if this dispute was "
              "already escalated by hand.")
@click.option("--force", is_flag=True, help="With --to: send to keys that are not configured "
              "solvers too.")
@click.option("--operator", default=None, help="Your name for the audit trail and the solvers' "
              "DM (default: your login name).")
@domain_errors
def escalate(*, config_path: Path | None, dispute_id: str, note: str | None, to: tuple[str, ...],
             again: bool, force: bool, operator: str | None) -> None:
    """Hand a dispute to human solvers now, with an `escalation_handoff/v1` DM that says it
    was escalated by hand, by whom, and shows the note.

    Safe to repeat: a second run says "already escalated" and sends nothing, unless --again.
    --to refuses Serbero's own key, and keys that are not configured solvers unless --force.

    \b
    Example:
        serbero escalate 4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10 --note "buyer sent proof"
        serbero escalate 4a1c2b9e-… --to npub1… --again
    """
    from serbero import clock
    from serbero.escalation import manual, routing

    settings = load_settings(config_path)
    quiet_logging(settings)
    open_db(settings)
    result = manual.escalate(dispute_id, settings=settings, operator=operator or _operator(),
                             now=clock.now(), note=note, to=to, again=again, force=force)
    prepared, route = result.prepared, result.route
    if not prepared.created:
        click.echo(f"already escalated: dispute {dispute_id} has handoff {prepared.handoff_id} "
                   f"({prepared.status}); nothing new was written or sent. "
                   "Use --again to send another.")
        return
    click.echo(f"handoff {prepared.handoff_id} prepared for dispute {dispute_id} "
               "(trigger manual)")
    if route.kind == routing.UNROUTABLE:
        click.echo(f"WARNING: no solver can receive it yet ({len(settings.solvers)} configured, "
                   "none with write permission, fallback_to_all_solvers off); it waits until "
                   "you add a write solver, or re-run with --again --to PUBKEY.", err=True)
    else:
        click.echo(f"recipients ({route.kind}):")
        for pubkey in route.recipients:
            click.echo(f"  {pubkey}")
    click.echo(enqueue_dispatch(prepared.handoff_id, settings))


def enqueue_dispatch(handoff_id: int, settings: Any) -> str:
    """Hand the dispatch to the workers, after commit; say what will happen (the CLI and the
    web view's escalate form both end here)."""
    interval = settings.escalation.dispatch_interval_seconds
    if not settings.redis_url:
        return (f"no SERBERO_REDIS_URL: `serbero run` dispatches it within {interval} s "
                "(its dispatcher scan).")
    from serbero_workers import wiring

    try:
        wiring.install(settings).get_actor("dispatch_handoff").send(handoff_id)
    except Exception as exc:  # the handoff is committed; the scan is the safety net
        return (f"could not enqueue the dispatch ({type(exc).__name__}); the dispatcher's "
                f"scan sends it within {interval} s.")
    return "dispatch enqueued on the escalation queue."


@cli.group()
def escalations() -> None:
    """Inspect escalation handoffs and their dispatch."""


@escalations.command("list")
@config_option
@click.option("--pending", is_flag=True, help="Only handoffs no solver has received yet.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@domain_errors
def escalations_list(config_path: Path | None, pending: bool, limit: int) -> None:
    """List handoffs, newest first, with their dispatch status.

    \b
    Example:
        serbero escalations list --pending
    """
    from serbero.escalation.queries import list_handoffs
    from serbero.nostr.keys import short

    open_db(load_settings(config_path))
    rows = [("HANDOFF", "DISPUTE", "TRIGGER", "STATUS", "ROUTE", "DELIVERED", "ATTEMPTS",
             "CREATED (UTC)", "NEXT TRY (UTC)", "TO")]
    for v in list_handoffs(pending_only=pending, limit=limit):
        rows.append((str(v.handoff_id), v.dispute_id, v.trigger, v.status, v.route or "-",
                     f"{v.delivered}/{len(v.recipients)}" if v.recipients else "-",
                     str(v.attempts), utc_text(v.created_at),
                     utc_text(v.next_attempt_at) if v.status == "send_failed" else "-",
                     ", ".join(short(r) for r in v.recipients) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    if len(rows) == 1:
        click.echo("(no pending handoffs)" if pending else "(no handoffs)")
