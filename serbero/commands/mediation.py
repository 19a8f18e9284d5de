"""`serbero mediation list|show`: the mediation sessions, read from the database. A shell over
`serbero.mediation.queries`; nothing here writes. Rationale text is printed only with
`--show-rationale` (it is model output about the parties: shown on an operator's request)."""

from __future__ import annotations

from pathlib import Path

import click

from serbero.cli import cli, config_option, domain_errors, load_settings, open_db, quiet_logging
from serbero.clock import utc_text

#: The states `--state` accepts (serbero.mediation.sessions.STATES, spelled here so that
#: `serbero --help` imports nothing heavy).
STATES = ("opening", "taking", "awaiting_response", "summary_pending", "summary_delivered",
          "escalation_recommended", "superseded_by_human", "closed", "failed")




@click.group()
def mediation() -> None:
    """Inspect mediation sessions."""


@mediation.command("list")
@config_option
@click.option("--state", type=click.Choice(STATES), help="Only sessions in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@domain_errors
def list_command(config_path: Path | None, state: str | None, limit: int) -> None:
    """List mediation sessions, newest first: state, question rounds, messages each way.

    \b
    Example:
        serbero mediation list --state awaiting_response
    """
    from serbero.mediation.queries import list_sessions

    settings = load_settings(config_path)
    quiet_logging(settings)
    open_db(settings, create=False)
    rows = [("SESSION", "DISPUTE", "STATE", "ROUNDS", "IN/OUT", "STARTED (UTC)", "REASON")]
    rows += [(r.session.session_id, r.session.dispute_id, r.session.state,
              str(r.session.rounds_asked), f"{r.inbound}/{r.outbound}",
              utc_text(r.session.started_at), r.session.end_reason or "-")
             for r in list_sessions(state=state, limit=limit)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    if len(rows) == 1:
        click.echo("(no mediation sessions)")


@mediation.command("show")
@config_option
@click.argument("session_or_dispute", metavar="SESSION|DISPUTE")
@click.option("--show-rationale", is_flag=True,
              help="Also print each rationale's text (model output about the parties).")
@domain_errors
def show_command(config_path: Path | None, session_or_dispute: str,
                 show_rationale: bool) -> None:
    """Show one session: its state and pinned rules, the transcript with inner timestamps,
    the classifications with their confidences, the decisions, and rationale ids.

    \b
    Example:
        serbero mediation show 4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10
        serbero mediation show 4a1c2b9e-… --show-rationale
    """
    from serbero.mediation import rationale
    from serbero.mediation.queries import show
    from serbero.reasoning.prompts import escape_line

    settings = load_settings(config_path)
    quiet_logging(settings)
    open_db(settings, create=False)
    view = show(session_or_dispute)
    s = view.session
    for label, value in [
        ("session_id", s.session_id), ("dispute_id", s.dispute_id), ("state", s.state),
        ("end_reason", s.end_reason or "-"), ("started", utc_text(s.started_at)),
        ("opened", utc_text(s.opened_at)), ("ended", utc_text(s.ended_at)),
        ("prompt_bundle", f"{s.prompt_bundle_id} {s.policy_hash}"),
        ("rounds", f"{s.rounds_asked} of {s.max_rounds}"),
        ("classification", f"{s.current_classification} ({s.current_confidence:.2f})"
         if s.current_classification and s.current_confidence is not None else "-"),
        ("languages", f"buyer {s.buyer_language or '-'}, seller {s.seller_language or '-'}"),
        ("timers", ", ".join(f"{k} at {utc_text(v)}" for k, v in view.timers.items()) or "none"),
    ]:
        click.echo(f"{label:15} {value}")
    click.echo("\ntranscript (inner timestamps, UTC):")
    for m in view.messages:
        who = m.party if m.direction == "inbound" else f"serbero → {m.party}"
        flags = "".join([" (late)" if m.stale else "", " (attachment)" if m.attachment else ""])
        click.echo(f"  {utc_text(m.inner_event_created_at)}  {who}{flags}: "
                   f"{escape_line(m.content)}")
    if not view.messages:
        click.echo("  (no messages)")
    click.echo("\ndecisions:")
    for v in view.verdicts:
        cited = f"  rationale {v.rationale_id}" if v.rationale_id else ""
        click.echo(f"  {utc_text(v.at)}  {v.kind:28} {v.detail}{cited}")
        if show_rationale and v.rationale_id:
            text = rationale.text_of(v.rationale_id)
            click.echo(f"      rationale: {escape_line(text.reveal()) if text else '(missing)'}")


cli.add_command(mediation)
