"""`serbero demo`: the real daemon around an embedded relay, a simulated Mostro node and
simulated solver inboxes that print the DMs they decrypt. Nothing else needs to be installed.

The daemon itself is passed in (`serbero run`'s all-in-one runner), so the demo exercises
exactly the code an operator runs.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from nostr_sdk import Keys

from serbero import config, logs
from serbero.config import Settings
from serbero.db.models import Dispute, Notification
from serbero.simulators.mostro_node import MostroNode
from serbero.simulators.relay import start_relay
from serbero.simulators.solver_inbox import ReceivedDM, SolverInbox

Daemon = Callable[[Settings, asyncio.Event], Awaitable[None]]
#: Short timers so that a reminder shows up within the demo.
DEMO_RENOTIFY_S = 3


def demo_settings(db_path: Path, relay_url: str, serbero: Keys, mostro: str,
                  solvers: list[SolverInbox]) -> Settings:
    doc = {
        "serbero": {"private_key": serbero.secret_key().to_hex(), "db_path": str(db_path),
                    "log_level": "warning"},
        "mostro": {"pubkey": mostro},
        "relays": [{"url": relay_url}],
        "solvers": [{"pubkey": s.keys.public_key().to_bech32(),
                     "permission": "write" if i == 0 else "read"} for i, s in enumerate(solvers)],
        "timeouts": {"renotification_seconds": DEMO_RENOTIFY_S,
                     "renotification_check_interval_seconds": 1,
                     "renotification_max_count": 1},
    }
    service = config.load_service()  # the demo uses the Redis of the environment, if any
    return config.from_mapping(doc, {}).replace(redis_url=service.redis_url,
                                                redis_namespace=service.redis_namespace)


async def run_demo(daemon: Daemon, *, disputes: int = 3, solver_count: int = 2,
                   echo: Callable[[str], None] = print) -> int:
    """Run the scenario; return 0 when every solver saw what it should, 1 otherwise."""
    logs.setup("error")
    started = time.perf_counter()

    def show(inbox: SolverInbox, dm: ReceivedDM) -> None:
        lines = dm.text.splitlines()
        dispute = dm.linked_to or next((line.split(": ")[1] for line in lines
                                        if line.startswith("dispute_id: ")), "?")
        fields = ", ".join(line for line in lines[1:]
                           if ": " in line and not line.startswith("dispute_id: "))
        echo(f"  [{time.perf_counter() - started:5.2f}s] {inbox.name} ← {dispute[:8]}… "
             f"{dm.subject} ({fields}) [{dm.form}]")

    relay, url = await start_relay()
    inboxes = [SolverInbox(name=f"solver-{i + 1}", on_message=show) for i in range(solver_count)]
    node = MostroNode()
    stop = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="serbero-demo-") as tmp:
        settings = demo_settings(Path(tmp) / "demo.db", url, Keys.generate(), node.pubkey, inboxes)
        echo(f"relay {url}; Mostro node {node.pubkey[:12]}…; {solver_count} solvers; "
             f"database {tmp}/demo.db")
        for inbox in inboxes:
            await inbox.connect([url])
        await node.connect([url])
        task = asyncio.create_task(daemon(settings, stop))
        await asyncio.sleep(1.0)  # the listener subscribes
        try:
            ok = await _scenario(node, inboxes, disputes, echo)
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
                    echo: Callable[[str], None]) -> bool:
    echo(f"\n1. The Mostro node opens {count} disputes; each solver should hear of each once.")
    ids = [await node.open_dispute(initiator="buyer" if i % 2 == 0 else "seller")
           for i in range(count)]
    await _all(inboxes, count, "New Mostro dispute")

    echo("\n2. The same events arrive again (a relay replay): nothing new should be sent.")
    replayed = node.revision(ids[0], "initiated")
    await node.send(replayed)
    await asyncio.sleep(0.5)

    echo("\n3. A solver takes the first dispute in Mostro; every solver is told it is taken "
         "(mostrod's event does not say by whom).")
    await node.take(ids[0])
    await _all(inboxes, 1, "has been taken")

    if count > 1:
        echo(f"\n4. Nobody takes the others: after {DEMO_RENOTIFY_S}s solvers are reminded.")
        await _all(inboxes, 1, "still unattended", timeout=DEMO_RENOTIFY_S + 8)

    echo("\n5. Disputes close (a solver settles, the parties cancel); solvers are told.")
    await node.close(ids[0], "settled")
    expected = 1
    if count > 2:
        await node.close(ids[2], "cooperatively-canceled")
        expected = 2
    await _all(inboxes, expected, "has been resolved")
    await asyncio.sleep(0.5)
    initial = [len(i.texts("New Mostro dispute")) for i in inboxes]
    return all(n == count for n in initial)


async def _all(inboxes: list[SolverInbox], count: int, containing: str,
               timeout: float = 10.0) -> None:
    await asyncio.gather(*(i.wait_for(count, containing, timeout) for i in inboxes))


def _summary(echo: Callable[[str], None]) -> None:
    echo("\nWhat the database recorded:")
    for d in Dispute.select().order_by(Dispute.detected_at, Dispute.dispute_id):
        sent = (Notification.select().where((Notification.dispute == d.dispute_id)
                                            & (Notification.status == "sent")).count())
        echo(f"  {d.dispute_id}  {d.lifecycle_state:9} mostro status {d.dispute_status:22} "
             f"{sent} notices delivered")
