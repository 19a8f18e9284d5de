"""`serbero mostro …`: what the configured Mostro node announces, as Serbero sees it on its relays.
Heavy imports happen inside the commands, so `serbero --help` stays fast."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from serbero.cli import cli, config_option, domain_errors, load_settings
from serbero.clock import utc_text

#: Seconds the relays get to answer, unless --timeout says otherwise.
DEFAULT_TIMEOUT_S = 5.0


@click.group()
def mostro() -> None:
    """Inspect the Mostro node Serbero works with."""


async def _fetch(relays: tuple[str, ...], node_pubkey: str, timeout_s: float) -> Any:
    from serbero.mostro import info
    from serbero.nostr.relays import open_client

    client = await open_client(relays)
    try:
        return await info.fetch(client, node_pubkey, timeout_s=timeout_s)
    finally:
        await client.shutdown()


def _when(ts: int) -> str:
    return f"{utc_text(ts)} UTC"


@mostro.command("info")
@config_option
@click.option("--timeout", "timeout_s", default=DEFAULT_TIMEOUT_S, show_default=True,
              type=click.FloatRange(0.5, 120), help="Seconds to wait for the relays.")
@domain_errors
def info_command(config_path: Path | None, timeout_s: float) -> None:
    """Print the node's protocol version, proof-of-work demands, relays and `serbero` key, as
    the configured relays carry them, and how Serbero will talk to it.

    \b
    Example:
        serbero mostro info -c config.toml
    """
    from serbero.mostro import info, protocols

    settings = load_settings(config_path)
    node, relays = asyncio.run(_fetch(settings.relays, settings.mostro_pubkey, timeout_s))
    if node is None:
        raise click.ClickException(
            f"no info event (kind 38385) from {settings.mostro_pubkey} on "
            f"{len(settings.relays)} relay(s) within {timeout_s:g}s; check [mostro].pubkey "
            "and that these relays carry the node.")
    wire = protocols.announced(node.protocol_version)
    version = (f"absent: {wire.wire} ({wire.name}) assumed" if node.protocol_version is None
               else f"{node.protocol_version} ({wire.wire})")
    rows = [("node", node.node_pubkey),
            ("info event", f"{node.event_id} ({_when(node.created_at)})"),
            ("mostro version", node.mostro_version or "not announced"),
            ("protocol version", version),
            ("pow", "not announced" if node.pow is None else f"{node.pow} bits"),
            ("pow first contact", "unknown" if node.pow_first_contact is None
             else f"{node.pow_first_contact} bits"),
            ("relays (kind 10002)", ", ".join(relays) if relays else "none announced")]
    status = node.serbero_status(settings.serbero_pubkey)
    serbero = {info.OURS: f"{node.serbero_tag} (this Serbero)",
               info.ABSENT: "none announced"}.get(status, f"{node.serbero_tag} (NOT this Serbero)")
    rows.append(("serbero key", serbero))
    profile = info.profile_for(settings, node)
    plan = f"{profile.transport}, {profile.pow_bits} bits of work ({profile.transport_source})"
    rows.append(("serbero will use", plan if profile.can_take
                 else f"nothing: takes refused ({profile.refusal})"))
    for label, value in rows:
        click.echo(f"{label + ':':21}{value}")
    if status in (info.FOREIGN, info.MALFORMED):
        click.echo(f"WARNING: the node trusts Serbero key {node.serbero_tag}, not this one "
                   f"({settings.serbero_pubkey}); mediation will not take disputes on it.",
                   err=True)


cli.add_command(mostro)
