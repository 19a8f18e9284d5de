"""The `serbero` command: the composition root, a thin click group over `serbero/` and
`serbero_workers/`.

Exit codes: 0 success, 1 runtime error, 2 bad usage or bad configuration.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from serbero import __version__, config, drivers, logs
from serbero.clock import utc_text
from serbero.errors import ConfigError, DatabaseError, SerberoError
from serbero.nostr import bindings

log = logging.getLogger(__name__)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
CONFIG_EXIT = 2
RUNTIME_EXIT = 1
#: How long `serbero worker` lets each process finish its jobs on SIGTERM, in milliseconds.
WORKER_SHUTDOWN_TIMEOUT_MS = 30_000


def fail_config(exc: ConfigError) -> None:
    for problem in exc.problems:
        click.echo(f"config error: {problem}", err=True)
    sys.exit(CONFIG_EXIT)


def load_settings(path: Path | None, *, echo_warnings: bool = True) -> config.Settings:
    """Settings, or one line per problem on stderr and exit code 2. Daemons log the warnings
    instead (`start_logging`), so they come once, in the log's format."""
    try:
        settings = config.load(path)
    except ConfigError as exc:
        fail_config(exc)
    if echo_warnings:
        for warning in settings.warnings:
            click.echo(f"WARNING: {warning}", err=True)
    return settings


def start_logging(settings: config.Settings) -> None:
    """Logging as configured; each configuration warning is repeated as a log record, so a
    daemon's log (journald, a collector) shows it too."""
    logs.setup(settings.log_level, settings.log_format)
    for warning in settings.warnings:
        log.warning("config_warning", extra={"warning": warning})


def quiet_logging(settings: config.Settings) -> None:
    """For a one-shot command: log records only at error level unless SERBERO_LOG asks for
    more, so what the command prints is all an operator sees."""
    logs.setup(settings.env_log_level or "error", settings.log_format)


def config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config", "-c", "config_path", type=click.Path(path_type=Path, dir_okay=False),
        default=None, help="Configuration file (default: $SERBERO_CONFIG or ./config.toml).",
    )(fn)


def fail_database(exc: DatabaseError) -> None:
    click.echo(f"database error: {exc}", err=True)
    sys.exit(RUNTIME_EXIT)


def domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Domain errors leave through one door: `Error: …` on stderr, exit code 1 (a database
    that cannot be used: one `database error: …` line, also exit code 1)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail_config(exc)
        except DatabaseError as exc:
            fail_database(exc)
        except SerberoError as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


def open_db(settings: config.Settings, *, create: bool = True, upgrade: bool = True) -> None:
    """Bind the models to the deployment's database, applying missing migrations if `upgrade`.

    With `create=False` a database that does not exist yet is an error: an inspection command
    run with a mistyped path must not leave an empty database behind.
    """
    from serbero.db import migrate
    from serbero.db.access import open_checked

    db = open_checked(settings.db_url, create=create)
    if not create and not db.table_exists("disputes"):
        raise DatabaseError(f"{config.redact_url(settings.db_url)}: no Serbero tables; "
                            "run `serbero migrate`.")
    if upgrade:
        migrate(db)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="serbero")
def cli() -> None:
    """Serbero: dispute coordination for Mostro. Never moves funds.

    \b
    Example:
        serbero demo                  # the whole flow on an embedded relay, in seconds
        serbero check-config -c config.toml
        serbero run -c config.toml    # listener + ticker + worker in one process
    """


@cli.command("check-config")
@config_option
@click.option("--offline", is_flag=True,
              help="Do not check that the database and Redis answer.")
@click.option("--strict", is_flag=True,
              help="Warnings count as problems: exit code 2 if there is any.")
def check_config(config_path: Path | None, offline: bool, strict: bool) -> None:
    """Validate the configuration, check that the database and Redis (when configured) answer,
    and print a summary, without starting anything. Exit codes: 0 ok, 1 the database or Redis
    does not answer, 2 a configuration problem (or, with --strict, a warning).

    \b
    Example:
        serbero check-config -c /etc/serbero/config.toml
        serbero check-config --offline --strict    # in CI, before deploying a file
    """
    from serbero.db.access import check as check_database
    from serbero.redis_store import check as check_redis

    settings = load_settings(config_path)
    click.echo(f"config: {settings.config_path}")
    click.echo(f"serbero pubkey: {settings.serbero_pubkey}")
    click.echo(f"mostro pubkey: {settings.mostro_pubkey}")
    click.echo(f"relays: {len(settings.relays)}")
    valid = sum(s.hex_pubkey is not None for s in settings.solvers)
    click.echo(f"solvers: {len(settings.solvers)} ({valid} with a valid pubkey)")
    click.echo(f"solver messages: {settings.notifications.format}"
               + "".join(f", #{i + 1} {s.format}" for i, s in enumerate(settings.solvers)
                         if s.format))
    click.echo(f"observers: {len(settings.observers)}; webhooks: "
               + (", ".join(w.name for w in settings.webhooks) or "none"))
    click.echo(f"database: {config.redact_url(settings.db_url)}")
    click.echo(f"broker: {'redis' if settings.redis_url else 'embedded (serbero run only)'}")
    down = []
    if not offline:
        if problem := check_database(settings.db_url):
            down.append(f"database error: {problem}")
        if settings.redis_url and (problem := check_redis(settings.redis_url)):
            down.append(f"redis error: {problem}")
    for line in down:
        click.echo(line, err=True)
    if down:
        sys.exit(RUNTIME_EXIT)
    if strict and settings.warnings:
        click.echo(f"config error: --strict: {len(settings.warnings)} warning(s) above.",
                   err=True)
        sys.exit(CONFIG_EXIT)
    answered = "" if offline else "; the database and Redis answer" if settings.redis_url \
        else "; the database answers"
    click.echo(("ok" if not settings.warnings else "ok, with warnings above") + answered)


@cli.command()
@config_option
@domain_errors
def migrate(config_path: Path | None) -> None:
    """Apply database migrations (also done at start-up); safe to repeat.

    \b
    Example:
        SERBERO_DB_URL=postgresql://serbero@db/serbero serbero migrate
    """
    from serbero.db import migrate as apply
    from serbero.db.access import open_checked

    settings = load_settings(config_path)
    applied = apply(open_checked(settings.db_url))
    click.echo(f"applied versions {applied}" if applied else "nothing to migrate")


def _run_async(main: Callable[[asyncio.Event], Any]) -> None:
    from serbero.listener import stop_on_signals

    async def runner() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await main(stop)

    asyncio.run(runner())


def needs_redis(settings: config.ServiceSettings, command: str,
                why: str = "exchanges jobs through Redis") -> None:
    """Exit 2, naming the variable, when a command that needs Redis has none configured."""
    if not settings.redis_url:
        click.echo(f"config error: SERBERO_REDIS_URL: not set; `serbero {command}` {why}. Set "
                   "it (e.g. redis://127.0.0.1:6379/0), or run everything in one process with "
                   "`serbero run`.", err=True)
        sys.exit(CONFIG_EXIT)


@cli.command()
@config_option
@domain_errors
def listen(config_path: Path | None) -> None:
    """Run the relay listener and the ticker; workers do the rest (needs Redis).

    \b
    Example:
        SERBERO_REDIS_URL=redis://127.0.0.1:6379/0 serbero listen -c config.toml
    """
    settings = load_settings(config_path, echo_warnings=False)
    drivers.load_only_needed(settings.db_url)
    needs_redis(settings, "listen")
    start_logging(settings)
    open_db(settings)
    from serbero.listener import serve
    from serbero_workers.wiring import build_listener

    listener, ticker = build_listener(settings)
    _run_async(lambda stop: serve(listener, stop, ticker=ticker))


@cli.command()
@config_option
@click.option("--processes", "-p", default=1, show_default=True, help="Worker processes.")
@click.option("--threads", "-t", default=8, show_default=True, help="Threads per process.")
@click.option("--queues", "-Q", multiple=True, help="Only these queues (repeat the option).")
def worker(config_path: Path | None, processes: int, threads: int, queues: tuple[str, ...]) -> None:
    """Run worker processes for every queue (needs Redis), under a supervisor that replaces a
    process that dies and leaves the others alone (`dramatiq serbero_workers.wiring:boot` runs the
    same workers under dramatiq's supervisor, which stops them all when one dies). One process
    suits a 2-core host; raise -p towards the core count on larger ones (with PostgreSQL).

    \b
    Example:
        SERBERO_REDIS_URL=redis://127.0.0.1:6379/0 serbero worker -p 1 -t 8
    """
    from serbero.db.access import check as check_database

    settings = load_settings(config_path)
    needs_redis(settings, "worker")
    if problem := check_database(settings.db_url):  # say it once, not once per process
        click.echo(f"database error: {problem}", err=True)
        sys.exit(RUNTIME_EXIT)
    if config_path is not None:
        os.environ["SERBERO_CONFIG"] = str(config_path)
    argv = [sys.executable, "-m", "serbero.supervisor", "--processes", str(processes),
            "--threads", str(threads), "--shutdown-timeout-ms", str(WORKER_SHUTDOWN_TIMEOUT_MS),
            "--log-level", settings.log_level, "--log-format", settings.log_format]
    if queues:
        argv += ["--queues", *queues]
    os.execv(sys.executable, argv)  # noqa: S606 - become the (lean) supervisor


@cli.command()
@config_option
@click.option("--threads", "-t", default=8, show_default=True, help="In-process worker threads.")
@domain_errors
def run(config_path: Path | None, threads: int) -> None:
    """Run listener, ticker and worker in one process; without SERBERO_REDIS_URL the broker
    is embedded, and the database alone carries pending work across restarts.

    \b
    Example:
        serbero run -c config.toml
    """
    settings = load_settings(config_path, echo_warnings=False)
    drivers.load_only_needed(settings.db_url)
    from serbero_workers.wiring import run_all_in_one

    start_logging(settings)
    _run_async(lambda stop: run_all_in_one(settings, stop, threads=threads))


@cli.command()
@click.option("--disputes", "count", default=3, show_default=True,
              help="Disputes the simulated Mostro node opens.")
@click.option("--solvers", default=2, show_default=True, help="Simulated solver inboxes.")
@click.option("--mediation", is_flag=True, help="Show guided mediation instead: simulated "
              "parties, a scripted model, one dispute summarised and one handed off.")
@click.option("--use-env", is_flag=True, help="Run on SERBERO_REDIS_URL and a PostgreSQL "
              "SERBERO_DB_URL, in a namespace and a schema of the demo's own, removed "
              "afterwards (default: an embedded broker and a temporary SQLite file).")
@click.option("--verbose", "-v", is_flag=True, help="Show the daemon's log here, between the "
              "narrative's lines, instead of in the log file the demo names.")
def demo(count: int, solvers: int, mediation: bool, use_env: bool, verbose: bool) -> None:
    """Show the whole flow in seconds: an embedded relay, a simulated Mostro node and solver
    inboxes that print the DMs they decrypt, around the real daemon code. It never touches a
    deployment: it ignores the configuration, keys, Redis and database of the environment
    unless --use-env.

    \b
    Example:
        serbero demo --disputes 3
        serbero demo --mediation
    """
    from serbero_workers.wiring import run_all_in_one

    if mediation:
        from serbero.demo_mediation import run_mediation_demo

        sys.exit(asyncio.run(run_mediation_demo(run_all_in_one, echo=click.echo,
                                                  use_env=use_env, verbose=verbose)))
    from serbero.demo import run_demo

    if not 1 <= count <= 50 or not 1 <= solvers <= 10:
        raise click.UsageError("use 1 to 50 disputes and 1 to 10 solvers")
    sys.exit(asyncio.run(run_demo(run_all_in_one, disputes=count, solver_count=solvers,
                                  echo=click.echo, use_env=use_env, verbose=verbose)))


@cli.group()
def keys() -> None:
    """Make and inspect Serbero's Nostr key."""


@keys.command("generate")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the secret to this new file (mode 0600) for SERBERO_PRIVATE_KEY_FILE "
                   "instead of printing it.")
def keys_generate(out: Path | None) -> None:
    """Make a fresh key pair: print it, or write the secret to a 0600 file (--out) and print
    only the public key.

    \b
    Example:
        serbero keys generate --out /etc/serbero/key   # then SERBERO_PRIVATE_KEY_FILE=…
        serbero keys generate
    """
    from nostr_sdk import Keys

    k = Keys.generate()
    if out is not None:
        _write_secret_file(out, k.secret_key().to_bech32())
        click.echo(f"secret written to {out} (mode 600); set "
                   f"SERBERO_PRIVATE_KEY_FILE={out.resolve()}")
    else:
        click.echo(f"secret (keep it secret): {k.secret_key().to_bech32()}")
        click.echo(f"secret hex:              {k.secret_key().to_hex()}")
    click.echo(f"public:                  {k.public_key().to_bech32()}")
    click.echo(f"public hex:              {k.public_key().to_hex()}")


def _write_secret_file(path: Path, secret: str) -> None:
    """Create `path` readable by its owner only, never replacing an existing file (it may hold
    the only copy of a key in use)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} already exists; it may hold a key in use, so it "
                                   "was left alone. Choose another --out.") from None
    except OSError as exc:
        raise click.ClickException(f"cannot create {path}: {exc.strerror}.") from None
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whatever the umask
        handle.write(secret + "\n")


@keys.command("show")
@config_option
def keys_show(config_path: Path | None) -> None:
    """Print Serbero's public key from the configuration (never the secret).

    \b
    Example:
        serbero keys show -c config.toml
    """
    from nostr_sdk import PublicKey

    settings = load_settings(config_path)
    click.echo(f"public:     {PublicKey.parse(settings.serbero_pubkey).to_bech32()}")
    click.echo(f"public hex: {settings.serbero_pubkey}")


@cli.group()
def disputes() -> None:
    """Inspect the disputes Serbero has seen."""




@disputes.command("list")
@config_option
@click.option("--state", type=click.Choice(
    ["new", "notified", "taken", "waiting", "escalated", "resolved"]), help="Only this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@domain_errors
def disputes_list(config_path: Path | None, state: str | None, limit: int) -> None:
    """List disputes, newest first.

    \b
    Example:
        serbero disputes list --state notified
    """
    from serbero.disputes.queries import list_disputes
    from serbero.nostr.keys import short

    open_db(load_settings(config_path), create=False)
    rows = [("DISPUTE", "STATE", "MOSTRO STATUS", "INITIATOR", "ASSIGNED", "DETECTED (UTC)")]
    rows += [(d.dispute_id, d.lifecycle_state, d.dispute_status, d.initiator_role,
              short(d.assigned_solver) if d.assigned_solver else "-", utc_text(d.detected_at))
             for d in list_disputes(state=state, limit=limit)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    if len(rows) == 1:
        click.echo("(no disputes)")


@disputes.command("show")
@config_option
@click.argument("dispute_id")
@domain_errors
def disputes_show(config_path: Path | None, dispute_id: str) -> None:
    """Show one dispute and its timeline of transitions and notifications.

    \b
    Example:
        serbero disputes show 4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10
    """
    from serbero.disputes.queries import get_dispute, timeline

    open_db(load_settings(config_path), create=False)
    d = get_dispute(dispute_id)
    for label, value in [
        ("dispute_id", d.dispute_id), ("lifecycle_state", d.lifecycle_state),
        ("mostro_status", d.dispute_status), ("initiator", d.initiator_role),
        ("assigned_solver", d.assigned_solver or "-"), ("opened_at", utc_text(d.opened_at)),
        ("event_timestamp", utc_text(d.event_timestamp)), ("detected_at", utc_text(d.detected_at)),
        ("last_notified_at", utc_text(d.last_notified_at)), ("reminders_sent", d.renotify_count),
        ("acknowledged_by", d.acknowledged_by or "-"),
        ("acknowledged_at", utc_text(d.acknowledged_at)),
    ]:
        click.echo(f"{label:17} {value}")
    click.echo("\ntimeline (UTC):")
    for entry in timeline(dispute_id):
        click.echo(f"  {utc_text(entry.at)}  {entry.what:22} {entry.detail}")


def main() -> None:
    bindings.apply()
    cli()


from serbero.commands import escalation as _escalation  # noqa: E402, F401 - escalate, escalations
from serbero.commands import mediation as _mediation  # noqa: E402, F401 - `serbero mediation`
from serbero.commands import mostro as _mostro  # noqa: E402, F401 - registers `serbero mostro`
from serbero.commands import ops as _ops  # noqa: E402, F401 - registers dashboard, status, metrics
from serbero.commands import reasoning as _reasoning  # noqa: E402, F401 - `serbero reasoning`
from serbero.commands import setup as _setup  # noqa: E402, F401 - registers `serbero config`
