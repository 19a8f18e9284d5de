"""`serbero demo --mediation`: guided mediation end to end, narrated. The real daemon (`serbero
run`'s all-in-one runner, passed in) runs around an embedded relay, a simulated Mostro node that
answers takes as mostrod does, two simulated parties per dispute (Mostro clients that derive
the dispute chat from their trade keys), two solver inboxes, and a scripted model: a real HTTP
server on loopback that answers from what the parties wrote. One dispute is summarised for the
solver; in the other the parties contradict each other and it is handed to a person.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from nostr_sdk import Keys

from serbero import config
from serbero.config import Settings
from serbero.demo import Place, daemon_log, place, said_log
from serbero.simulators.model import Answer, Asked, ScriptedModel, classification, summary
from serbero.simulators.mostro_node import MostroNode
from serbero.simulators.mostro_responder import MostroResponder
from serbero.simulators.party import SimulatedParty
from serbero.simulators.relay import start_relay
from serbero.simulators.solver_inbox import ReceivedDM, SolverInbox

Daemon = Callable[[Settings, asyncio.Event], Awaitable[None]]
#: Seconds Serbero waits after a party's last message before evaluating (20 in production).
DEMO_QUIET_S = 1
KEY_ENV = "SERBERO_DEMO_MODEL_KEY"

OPENING = classification("ask_clarification", confidence=0.86,
                         buyer="When did you send the payment, and from which bank?",
                         seller="Has a payment from the buyer reached your account?")
AGREED = classification("summarize", confidence=0.93)
CONTRADICTION = classification("ask_clarification", label="conflicting_claims", confidence=0.81,
                               buyer="-", seller="-", flags=("conflicting_claims",))


def script(asked: Asked) -> Answer:
    """The demo's model: it asks first, then reads what the parties said."""
    if asked.purpose == "summarize":
        return summary("The buyer paid 50 EUR by bank transfer at 10:02; the seller first did "
                       "not see it, then confirmed it arrived. Both agree the payment is done.",
                       "Check with the seller that the payment shows, then take the dispute "
                       "and settle it in Mostro.")
    if not asked.said_by("seller"):
        return OPENING
    if any("never" in line.lower() for line in asked.said_by("seller")):
        return CONTRADICTION
    return AGREED


def demo_settings(tmp: Path, where: Place, relay_url: str, *, serbero: Keys, mostro: str,
                  solvers: list[SolverInbox], model: ScriptedModel) -> Settings:
    doc = {
        "serbero": {"private_key": serbero.secret_key().to_hex(), "log_level": "info"},
        "mostro": {"pubkey": mostro},
        "relays": [{"url": relay_url}],
        "solvers": [{"pubkey": s.keys.public_key().to_bech32(),
                     "permission": "write" if i == 0 else "read"} for i, s in enumerate(solvers)],
        "timeouts": {"renotification_seconds": 3600},
        "mediation": {"enabled": True, "quiet_period_seconds": DEMO_QUIET_S,
                      "forward_batch_seconds": 2},
        "reasoning": {"enabled": True, "provider": "openai-compatible", "model": "demo-scripted",
                      "api_base": model.api_base, "api_key_env": KEY_ENV,
                      "request_timeout_seconds": 5, "followup_retry_count": 0},
        "escalation": {"enabled": True, "dispatch_interval_seconds": 2},
    }
    settings = config.from_mapping(doc, {KEY_ENV: "demo-key", "SERBERO_DB_URL": where.db_url})
    return settings.replace(redis_url=where.redis_url, redis_namespace=where.namespace)


class Narrator:
    """Prints what each person sees, as it arrives. A transcript is dated a second after the
    DM it follows, so clients that sort by time show it second; the narrator, which prints in
    arrival order, holds it back until that DM has been shown."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.started = time.perf_counter()
        self._held: dict[tuple[str, str | None], list[str]] = {}
        self._shown: set[tuple[str, str | None]] = set()

    def say(self, text: str) -> None:
        self.echo(f"  [{time.perf_counter() - self.started:5.1f}s] {text}")

    def solver(self, inbox: SolverInbox, dm: ReceivedDM) -> None:
        first, _, rest = dm.text.partition("\n")
        subject = first.split(" \u00b7 ", 1)[-1]
        lines = [line for line in rest.splitlines() if line.strip()]
        key = (inbox.name, dm.linked_to)
        if subject.startswith("transcript"):
            example = next((line for line in lines if "] buyer: " in line), lines[-1])
            text = f"{inbox.name} ← “{subject}”, one line per message, e.g. {example[:70]}"
            if key not in self._shown:
                self._held.setdefault(key, []).append(text)
                return
            self.say(text)
            return
        detail = {"summary": lines[2] if len(lines) > 2 else "",
                  "mediating": "a solver can take over at any time"}.get(
            subject, next((line for line in lines if line.startswith("Trigger")),
                          lines[0] if lines else ""))
        self.say(f"{inbox.name} ← “{subject}”" + (f": {detail[:110]}" if detail else ""))
        if subject == "summary" or subject.startswith("handed off"):
            self._shown.add(key)
            for held in self._held.pop(key, []):
                self.say(held)


async def _talk(node: MostroNode, responder: MostroResponder, url: str, say: Narrator,
                answers: tuple[str, str], *, done: Callable[[], bool]) -> list[SimulatedParty]:
    dispute = await node.open_dispute()
    order = responder.order_for(dispute)
    parties = [await SimulatedParty(keys, mostro_pubkey=node.pubkey, role=role).connect([url])
               for keys, role in ((order.buyer, "buyer"), (order.seller, "seller"))]
    say.say(f"dispute {dispute[:8]}… opened by the buyer")
    for party in parties:
        [first] = await party.wait_for_messages(1, timeout=20)
        say.say(f"{party.role}'s app shows a message from its solver (Serbero):")
        for line in first.content.split("\n\n"):
            say.echo(f"           “{line}”")
    for party, text in zip(parties, answers, strict=True):
        await party.say(text)
        say.say(f"{party.role} answers: “{text}”")
    deadline = time.monotonic() + 30
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    for party in parties:
        got = await party.wait_for_messages(2, timeout=15)
        say.say(f"{party.role} is told: “{got[-1].content}”")
    return parties


async def run_mediation_demo(daemon: Daemon, *, echo: Callable[[str], None] = print,
                             use_env: bool = False, verbose: bool = False,
                             log_path: Path | None = None) -> int:
    """Run both disputes; return 0 when each ended as it should, 1 otherwise. Like the main
    demo it never touches a deployment unless `use_env` (see `serbero.demo`)."""
    with daemon_log(verbose=verbose, log_path=log_path) as log_said:
        return await _run(daemon, echo, use_env=use_env, log_said=log_said)


async def _run(daemon: Daemon, echo: Callable[[str], None], *, use_env: bool,
               log_said: str) -> int:
    say = Narrator(echo)
    relay, url = await start_relay()
    model = ScriptedModel(script)
    inboxes = [SolverInbox(name=name, on_message=say.solver) for name in ("ana (write)",
                                                                          "bo (read)")]
    node, serbero = MostroNode(), Keys.generate()
    responder = MostroResponder(node, serbero=serbero.public_key().to_hex())
    stop = asyncio.Event()
    parties: list[SimulatedParty] = []
    with tempfile.TemporaryDirectory(prefix="serbero-demo-") as tmp, \
            place(Path(tmp), use_env=use_env) as where:
        settings = demo_settings(Path(tmp), where, url, serbero=serbero, mostro=node.pubkey,
                                 solvers=inboxes, model=model)
        echo(f"relay {url}; Mostro node {node.pubkey[:12]}… announcing Serbero's key "
             f"{settings.serbero_pubkey[:12]}…; a scripted model at {model.api_base}; "
             f"{where.said}\n{said_log(log_said)}")
        for inbox in inboxes:
            await inbox.connect([url])
        await node.connect([url])
        await responder.connect([url])
        await responder.announce()
        task = asyncio.create_task(daemon(settings, stop))
        await asyncio.sleep(1.0)  # the listener subscribes and reads the node's announcement
        try:
            echo("\n1. A buyer paid late. Serbero takes the dispute as a read-only solver, asks "
                 "each party one question in the dispute chat, and summarises for the write "
                 "solver (ana), who can then take the dispute and settle it.")
            parties += await _talk(node, responder, url, say,
                                   ("I sent 50 EUR at 10:02 from my bank app.",
                                    "I see it now, it arrived a moment ago."),
                                   done=lambda: _received(inboxes[0], "transcript"))
            echo("\n2. The parties contradict each other: Serbero stops and hands the dispute "
                 "to a person, with the handoff package and then the transcript.")
            parties += await _talk(node, responder, url, say,
                                   ("I paid 50 EUR at 10:02, here is the reference.",
                                    "I never received anything, that is not true."),
                                   done=lambda: _received(inboxes[0], "handed off"))
            await asyncio.sleep(0.5)  # the last transcript lands
        finally:
            stop.set()
            await task
            for peer in [*parties, *inboxes, responder]:
                await peer.shutdown()
            await node.shutdown()
            relay.shutdown()
            model.close()
        ok = _summary(echo, inboxes[0])
    echo("demo finished: " + ("one dispute summarised, one handed off" if ok
                              else "SOMETHING WENT WRONG"))
    return 0 if ok else 1


def _received(inbox: SolverInbox, subject: str) -> bool:
    return any(f" \u00b7 {subject}" in m.text.split("\n", 1)[0] for m in inbox.messages)


def _summary(echo: Callable[[str], None], writer: SolverInbox) -> bool:
    from serbero.mediation.models import MediationSession

    echo("\nWhat the database recorded (`serbero mediation list` shows the same):")
    states = []
    for s in MediationSession.select().order_by(MediationSession.started_at):
        states.append((s.state, s.end_reason))
        echo(f"  session {s.session_id[:8]}… dispute {s.dispute_id[:8]}…  {s.state:22} "
             f"({s.end_reason or '-'}), {s.rounds_asked} round(s) of questions")
    subjects = [m.text.split("\n", 1)[0].split(" \u00b7 ", 1)[-1] for m in writer.messages]
    return (("summary_delivered", "summary_delivered") in states
            and ("escalation_recommended", "conflicting_claims") in states
            and "summary" in subjects and "handed off: conflicting_claims" in subjects)
