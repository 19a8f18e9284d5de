"""`serbero demo`: the real daemon around an embedded relay, a simulated Mostro node and
simulated solver inboxes that print the DMs they decrypt. Nothing else needs to be installed.

The daemon itself is passed in (`serbero run`'s all-in-one runner), so the demo exercises
exactly the code an operator runs. It never touches a deployment: it reads no configuration
and no key from the environment, and runs on an embedded broker and a temporary SQLite file.
Only when asked (`use_env`) does it run on the environment's Redis, under a namespace of its
own, and PostgreSQL, in a schema of its own, and it removes both afterwards (an SQLite
SERBERO_DB_URL is a deployment's data file: the demo keeps to its temporary one). Its log goes
to a file it names, or with `verbose` to stderr, so the narrative reads on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nostr_sdk import Keys

from serbero import clock, config, logs, redis_store
from serbero.config import Settings, redact_url, sqlite_url
from serbero.db.models import Dispute, Notification, ProcessedInput
from serbero.listener.service import BUSY_RECONCILE_EVERY_S
from serbero.simulators.mostro_node import MostroNode
from serbero.simulators.relay import start_relay
from serbero.simulators.solver_inbox import ReceivedDM, SolverInbox

Daemon = Callable[[Settings, asyncio.Event], Awaitable[None]]
Echo = Callable[[str], None]
#: Short timers so that a reminder and a handoff show up within the demo.
DEMO_RENOTIFY_S = 3
DEMO_DISPATCH_S = 1
#: What the demo operator writes when escalating by hand.
DEMO_NOTE = "buyer sent the bank receipt"
#: How long the demo waits for the solvers' notices of a step. Usually they arrive within
#: milliseconds; but the embedded relay can drop a live event under load, and the listener's
#: re-read while events are coming finds it within BUSY_RECONCILE_EVERY_S, which the demo
#: shows instead of failing.
DEMO_WAIT_S = BUSY_RECONCILE_EVERY_S + 10


@dataclass(frozen=True)
class Place:
    """Where the demo runs: its database and broker, said in one line."""

    db_url: str
    redis_url: str | None
    namespace: str
    said: str


@contextlib.contextmanager
def place(tmp: Path, *, use_env: bool) -> Iterator[Place]:
    """The demo's database and broker; with `use_env` on the environment's services, in a
    namespace and a schema of the demo's own, removed afterwards."""
    env = config.environment_services() if use_env else {}
    redis_url = env.get("SERBERO_REDIS_URL")
    namespace = f"{env.get('SERBERO_REDIS_NAMESPACE', 'serbero')}-demo-{uuid.uuid4().hex[:8]}"
    db_url, schema = sqlite_url(tmp / "demo.db"), None
    if env.get("SERBERO_DB_URL", "").startswith(("postgres://", "postgresql://")):
        schema = f"serbero_demo_{uuid.uuid4().hex[:8]}"
        db_url = _with_schema(env["SERBERO_DB_URL"], schema)
        _admin(env["SERBERO_DB_URL"], f"CREATE SCHEMA {schema}")
    said = (f"database {redact_url(db_url) if schema is None else f'schema {schema} of '}"
            + ("" if schema is None else redact_url(env["SERBERO_DB_URL"]))
            + (f"; Redis {redact_url(redis_url)}, namespace {namespace}" if redis_url
               else "; embedded broker"))
    try:
        yield Place(db_url, redis_url, namespace, said)
    finally:
        if redis_url:
            client = redis_store.client(redis_url)
            keys = list(client.scan_iter(match=redis_store.glob_escape(namespace) + "*"))
            if keys:
                client.delete(*keys)
        if schema is not None:
            _admin(env["SERBERO_DB_URL"], f"DROP SCHEMA {schema} CASCADE")


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _admin(url: str, statement: str) -> None:
    from serbero.db import open_database

    db = open_database(url, bind=False)
    try:
        db.execute_sql(statement)
    finally:
        db.close()


def demo_settings(where: Place, relay_url: str, serbero: Keys, mostro: str,
                  solvers: list[SolverInbox]) -> Settings:
    doc = {
        "serbero": {"private_key": serbero.secret_key().to_hex(), "log_level": "info"},
        "mostro": {"pubkey": mostro},
        "relays": [{"url": relay_url}],
        "solvers": [{"pubkey": s.keys.public_key().to_bech32(),
                     "permission": "write" if i == 0 else "read"} for i, s in enumerate(solvers)],
        "timeouts": {"renotification_seconds": DEMO_RENOTIFY_S,
                     "renotification_check_interval_seconds": 1,
                     "renotification_max_count": 1},
        "escalation": {"dispatch_interval_seconds": DEMO_DISPATCH_S},
    }
    settings = config.from_mapping(doc, {"SERBERO_DB_URL": where.db_url})
    return settings.replace(redis_url=where.redis_url, redis_namespace=where.namespace)


def default_log_path() -> Path:
    return Path(tempfile.gettempdir()) / f"serbero-demo-{time.strftime('%Y%m%d-%H%M%S')}.log"


@contextlib.contextmanager
def daemon_log(*, verbose: bool, log_path: Path | None = None) -> Iterator[str]:
    """The daemon's log while a demo runs: in a file (the narrative reads on its own), or with
    `verbose` on stderr; yields where it goes, for the demo to say."""
    if verbose:
        logs.setup("info")
        yield "stderr"
        return
    path = log_path or default_log_path()
    with path.open("w") as sink:
        logs.setup("info", stream=sink)
        yield str(path)


def said_log(where: str) -> str:
    return f"log: {where}" + ("" if where == "stderr" else " (-v shows it here instead)")


async def run_demo(daemon: Daemon, *, disputes: int = 3, solver_count: int = 2,
                   echo: Echo = print, use_env: bool = False, verbose: bool = False,
                   log_path: Path | None = None) -> int:
    """Run the scenario; return 0 when every solver saw what it should, 1 otherwise."""
    with daemon_log(verbose=verbose, log_path=log_path) as log_said:
        return await _run(daemon, disputes, solver_count, echo, use_env=use_env,
                          log_said=log_said)


async def _run(daemon: Daemon, disputes: int, solver_count: int, echo: Echo, *,
               use_env: bool, log_said: str) -> int:
    started = time.perf_counter()

    def show(inbox: SolverInbox, dm: ReceivedDM) -> None:
        lines = dm.text.splitlines()
        dispute = dm.linked_to or next((line.split(": ")[1] for line in lines
                                        if line.startswith("dispute_id: ")), "?")
        fields = "" if dm.subject.startswith("handed off") else " (" + ", ".join(
            line for line in lines[1:] if ": " in line and not line.startswith("dispute_id: ")
        ) + ")"
        echo(f"  [{time.perf_counter() - started:5.2f}s] {inbox.name} ← {dispute[:8]}… "
             f"{dm.subject}{fields} [{dm.form}]")

    relay, url = await start_relay()
    inboxes = [SolverInbox(name=f"solver-{i + 1}", on_message=show) for i in range(solver_count)]
    node = MostroNode()
    stop = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="serbero-demo-") as tmp, \
            place(Path(tmp), use_env=use_env) as where:
        settings = demo_settings(where, url, Keys.generate(), node.pubkey, inboxes)
        echo(f"relay {url}; Mostro node {node.pubkey[:12]}…; {solver_count} solvers; "
             f"{where.said}\n{said_log(log_said)}")
        for inbox in inboxes:
            await inbox.connect([url])
        await node.connect([url])
        task = asyncio.create_task(daemon(settings, stop))
        await asyncio.sleep(1.0)  # the listener subscribes
        try:
            ok = await _scenario(node, inboxes, disputes, settings, echo)
        finally:
            stop.set()
            await task
            for inbox in inboxes:
                await inbox.shutdown()
            await node.shutdown()
            relay.shutdown()
        _summary(echo)
    echo("demo finished: " + ("every solver got what it should" if ok else "SOMETHING WAS MISSED"))
    return 0 if ok else 1


async def _scenario(node: MostroNode, inboxes: list[SolverInbox], count: int,
                    settings: Settings, echo: Echo) -> bool:
    echo(f"\n1. The Mostro node opens {count} disputes; each solver should hear of each once.")
    ids = [await node.open_dispute(initiator="buyer" if i % 2 == 0 else "seller")
           for i in range(count)]
    await _all(inboxes, count, "New Mostro dispute")

    echo("\n2. A relay replays the first dispute's event, and the node announces it again (a "
         "newer revision, still `initiated`): nothing new should be sent.")
    ok = await _replay(node, ids[0], inboxes, echo)

    echo("\n3. A solver takes the first dispute in Mostro; every solver is told it is taken "
         "(mostrod's event does not say by whom).")
    await node.take(ids[0])
    await _all(inboxes, 1, "has been taken")

    if count > 1:
        echo(f"\n4. Nobody takes the others: after {DEMO_RENOTIFY_S}s solvers are reminded.")
        await _all(inboxes, 1, "still unattended", timeout=DEMO_RENOTIFY_S + 8)

    ok = await _escalate(ids[-1], inboxes[0], settings, echo) and ok

    echo("\n6. Disputes close (a solver settles, the parties cancel); solvers are told.")
    await node.close(ids[0], "settled")
    expected = 1
    if count > 2:
        await node.close(ids[2], "cooperatively-canceled")
        expected = 2
    await _all(inboxes, expected, "has been resolved")
    await asyncio.sleep(0.5)
    initial = [len(i.texts("New Mostro dispute")) for i in inboxes]
    return ok and all(n == count for n in initial)


async def _replay(node: MostroNode, dispute_id: str, inboxes: list[SolverInbox],
                  echo: Echo) -> bool:
    """Both kinds of repeat; what the daemon did with each, from what it recorded."""
    before = sum(len(i.messages) for i in inboxes)
    replayed = node.opened[dispute_id]
    await node.send(replayed)
    again = await node.send(node.revision(dispute_id, "initiated"))
    outcome = await _outcome(again.id().to_hex())
    await asyncio.sleep(0.5)
    sent = sum(len(i.messages) for i in inboxes) - before
    if sent or outcome is None:
        echo(f"  UNEXPECTED: {sent} DMs sent, the newer revision was applied as {outcome}")
        return False
    echo(f"  nothing was sent: the replayed event ({replayed.id().to_hex()[:8]}…) had been "
         "handed over already, so the listener dropped it (the inbox would have too: each "
         f"event is applied once); the newer revision was applied as `{outcome}`, since the "
         "dispute is recorded and its solvers were told already.")
    return True


async def _outcome(event_id: str, timeout_s: float = 10.0) -> str | None:
    """What the worker recorded for an event in the inbox, once it has."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = ProcessedInput.get_or_none(ProcessedInput.key == event_id)
        if row is not None:
            return row.outcome
        await asyncio.sleep(0.05)
    return None


async def _escalate(dispute_id: str, solver: SolverInbox, settings: Settings,
                    echo: Echo) -> bool:
    from serbero.escalation import manual

    echo(f"\n5. An operator escalates {dispute_id[:8]}… by hand (`serbero escalate "
         f"{dispute_id} --note \"{DEMO_NOTE}\"`); the write solver receives the handoff:")
    manual.escalate(dispute_id, settings=settings, operator="demo-operator", now=clock.now(),
                    note=DEMO_NOTE)
    try:
        [text] = await solver.wait_for(1, "handed off: manual", timeout=DEMO_DISPATCH_S + 10)
    except TimeoutError:
        echo("  UNEXPECTED: no handoff reached the write solver")
        return False
    for line in text.splitlines():
        echo(f"    | {line}")
    return True


async def _all(inboxes: list[SolverInbox], count: int, containing: str,
               timeout: float = DEMO_WAIT_S) -> None:
    await asyncio.gather(*(i.wait_for(count, containing, timeout) for i in inboxes))


def _summary(echo: Echo) -> None:
    echo("\nWhat the database recorded:")
    for d in Dispute.select().order_by(Dispute.detected_at, Dispute.dispute_id):
        sent = (Notification.select().where((Notification.dispute == d.dispute_id)
                                            & (Notification.status == "sent")).count())
        echo(f"  {d.dispute_id}  {d.lifecycle_state:9} mostro status {d.dispute_status:22} "
             f"{sent} notices delivered")
