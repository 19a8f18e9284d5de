"""Mediation end to end over a real in-process relay (spec §11.2-§11.6), on SQLite and on
PostgreSQL: the simulated Mostro node answers Serbero's take as mostrod does, two simulated
party clients derive their channels from their trade keys and talk to Serbero, the scripted
model answers over HTTP, solvers' inboxes decrypt what Serbero sends them, and the real listener
follows the chat through its wanted subscriptions. The daemon's steps run in the test's thread,
as the actors would run them.
"""

import asyncio
import queue
import time
from typing import Any

import pytest

from serbero.dedup import LocalSeen
from serbero.disputes import ingest
from serbero.listener import Listener, serve
from serbero.mediation import catalog, daemon, sessions
from serbero.simulators.model import classification, summary
from serbero.simulators.mostro_responder import MostroResponder
from serbero.simulators.party import SimulatedParty
from tests.mediation.conftest import MODEL_KEY_ENV, mediation_sections
from tests.mediation.harness import Mediation

ASK = classification("ask_clarification", buyer="¿A qué hora envió el pago?",
                     seller="¿Le llegó el pago a su cuenta?", buyer_language="es",
                     seller_language="es")


class RealClock:
    def __call__(self) -> int:
        return int(time.time())


class Daemon(Mediation):
    """The harness on the real relay: the listener's events are queued by its targets and
    applied here; jobs run when their time comes."""

    def __init__(self, rt: Any) -> None:
        super().__init__(rt, RealClock(), None, None)
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()

    def targets(self) -> dict[str, Any]:
        return {name: (lambda raw, name=name: self.events.put((name, raw)))
                for name in ("ingest_dispute_event", "ingest_mostro_event",
                             "ingest_chat_event")}

    def apply(self, name: str, raw: str) -> None:
        rt, now = self.rt, self.clock()
        if name == "ingest_dispute_event":
            self.follow(ingest.ingest(raw, settings=rt.settings, signer=rt.signer, now=now))
        elif name == "ingest_mostro_event":
            self.follow(daemon.mostro_event(raw, rt, now))
        else:
            self.follow(daemon.chat_event(raw, rt, now))

    def pump(self, until, timeout: float = 25.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "condition not met in time"
            while not self.events.empty():
                self.apply(*self.events.get())
            self.run_due()
            time.sleep(0.05)


@pytest.fixture
def serbero(nostr_loop, make_runtime, mostro, relay, solver_ana, solver_bo, model):
    rt = make_runtime(solvers=[solver_ana, solver_bo],
                      sections=mediation_sections(model.api_base, quiet_period_seconds=1),
                      env={MODEL_KEY_ENV: "sk-test-key"})
    d = Daemon(rt)
    responder = nostr_loop.run(MostroResponder(mostro, serbero=rt.settings.serbero_pubkey)
                               .connect([relay]), 10)
    nostr_loop.run(responder.announce(), 10)
    listener = Listener(rt.settings, targets=d.targets(), seen=LocalSeen())
    stop = asyncio.Event()
    running = asyncio.run_coroutine_threadsafe(serve(listener, stop), nostr_loop.loop)
    d.responder, d.listener = responder, listener
    from serbero.mostro import info

    d.pump(lambda: info.current_profile(rt.settings).can_take)
    yield d
    nostr_loop.loop.call_soon_threadsafe(stop.set)
    running.result(15)
    nostr_loop.run(responder.shutdown(), 10)
    from serbero.reasoning import setup

    setup.forget()


def parties(nostr_loop, relay, d, mostro, dispute_id):
    order = d.responder.order_for(dispute_id)
    return [nostr_loop.run(SimulatedParty(keys, mostro_pubkey=mostro.pubkey, role=role)
                           .connect([relay]), 10)
            for keys, role in ((order.buyer, "buyer"), (order.seller, "seller"))]


def test_a_cooperative_dispute_is_mediated_and_summarised_over_the_relay(
        nostr_loop, relay, mostro, serbero, scripts, solver_ana, solver_bo):
    # Given a new dispute whose parties' clients are online
    dispute = nostr_loop.run(mostro.open_dispute(), 10)
    buyer, seller = parties(nostr_loop, relay, serbero, mostro, dispute)
    scripts.on(dispute, ASK, classification("summarize", confidence=0.93),
               summary("El comprador pagó tarde; el vendedor ya lo ve.",
                       "Confirm with the seller, then take the dispute to settle it."))
    try:
        # When Serbero's start job runs and the node answers the take
        serbero.pump(lambda: serbero.state(dispute) == sessions.AWAITING)
        # Then each party's app shows Serbero as its solver and the opening question, in the
        # language the model detected, behind the identity line
        for party, question in ((buyer, "¿A qué hora envió el pago?"),
                                (seller, "¿Le llegó el pago a su cuenta?")):
            [first] = nostr_loop.run(party.wait_for_messages(1), 15)
            assert first.sender == serbero.rt.settings.serbero_pubkey
            assert first.content.startswith(catalog.texts("es")[catalog.IDENTITY])
            assert first.content.endswith(question)
        # When both answer in the chat
        nostr_loop.run(buyer.say("Lo envié a las 10:02"), 10)
        nostr_loop.run(seller.say("Ahora sí lo veo"), 10)
        serbero.pump(lambda: serbero.state(dispute) == sessions.SUMMARY_DELIVERED)
        # Then the write solver decrypts the summary and then the transcript; the read solver
        # only heard that Serbero mediates
        texts = nostr_loop.run(solver_ana.wait_for(4), 15)
        assert [t.split("\n")[0].split(" \u00b7 ")[1] for t in texts] == [
            "new", "mediating", "summary", "transcript (4 messages, times UTC)"]
        assert "El comprador pagó tarde" in texts[2]
        assert "] buyer: Lo envié a las 10:02" in texts[3]
        assert [t.split("\n")[0].split(" \u00b7 ")[1] for t in solver_bo.texts()] == [
            "new", "mediating"]
        # and both parties are told, in their language, that the solver has it
        for party in (buyer, seller):
            got = nostr_loop.run(party.wait_for_messages(2), 15)
            assert got[-1].content == catalog.texts("es")[catalog.SUMMARY_DELIVERED]
    finally:
        for party in (buyer, seller):
            nostr_loop.run(party.shutdown(), 10)


def test_a_handed_off_dispute_then_taken_over_and_closed_over_the_relay(
        nostr_loop, relay, mostro, serbero, scripts, solver_ana, solver_bo):
    dispute = nostr_loop.run(mostro.open_dispute(), 10)
    buyer, seller = parties(nostr_loop, relay, serbero, mostro, dispute)
    scripts.on(dispute, ASK, classification("ask_clarification", buyer="?", seller="?",
                                            flags=("conflicting_claims",)))
    try:
        serbero.pump(lambda: serbero.state(dispute) == sessions.AWAITING)
        nostr_loop.run(buyer.say("Pagué, tengo el comprobante"), 10)
        nostr_loop.run(seller.say("No recibí nada, es mentira"), 10)
        serbero.pump(lambda: serbero.state(dispute) == sessions.ESCALATED)
        # Then the write solver gets one handoff DM, then the transcript
        texts = nostr_loop.run(solver_ana.wait_for(4), 15)
        assert texts[2].split("\n")[0].endswith("handed off: conflicting_claims")
        assert "escalation_handoff/v1" in texts[2]
        assert texts[3].split("\n")[0].endswith("times UTC)")
        for party in (buyer, seller):
            got = nostr_loop.run(party.wait_for_messages(2), 15)
            assert got[-1].content == catalog.texts("es")[catalog.HANDED_OFF]
        # When a person takes the dispute over, then settles it
        nostr_loop.run(mostro.take(dispute), 10)
        serbero.pump(lambda: serbero.state(dispute) == sessions.CLOSED)
        nostr_loop.run(mostro.close(dispute, "settled"), 10)
        serbero.pump(lambda: serbero.lifecycle(dispute) == "resolved")
        texts = nostr_loop.run(solver_bo.wait_for(1, "mediation_resolution_report/v1"), 15)
        assert "Final dispute status: settled" in texts[0]
        assert serbero.session(dispute).end_reason == "human_took_over"
    finally:
        for party in (buyer, seller):
            nostr_loop.run(party.shutdown(), 10)
