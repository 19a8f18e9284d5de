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


def subjects(texts):
    return [t.split("\n")[0].split(" \u00b7 ")[1] for t in texts]


def test_one_dispute_summarised_and_one_handed_off_taken_over_and_closed_over_the_relay(
        nostr_loop, relay, mostro, serbero, scripts, solver_ana, solver_bo):
    # Given two new disputes whose parties' clients are online: in the first the parties
    # agree, in the second they contradict each other
    agreed = nostr_loop.run(mostro.open_dispute(), 10)
    contested = nostr_loop.run(mostro.open_dispute(), 10)
    peers = parties(nostr_loop, relay, serbero, mostro, agreed) + \
        parties(nostr_loop, relay, serbero, mostro, contested)
    (buyer, seller), (buyer2, seller2) = peers[:2], peers[2:]
    scripts.on(agreed, ASK, classification("summarize", confidence=0.93),
               summary("El comprador pagó tarde; el vendedor ya lo ve.",
                       "Confirm with the seller, then take the dispute to settle it."))
    scripts.on(contested, ASK, classification("ask_clarification", buyer="?", seller="?",
                                              flags=("conflicting_claims",)))
    try:
        # When Serbero's start jobs run and the node answers its takes
        serbero.pump(lambda: serbero.state(agreed) == serbero.state(contested)
                     == sessions.AWAITING)
        # Then each party's app shows Serbero as its solver and its own opening question, in
        # the language the model detected, behind the identity line
        for party, question in ((buyer, "¿A qué hora envió el pago?"),
                                (seller, "¿Le llegó el pago a su cuenta?")):
            [first] = nostr_loop.run(party.wait_for_messages(1), 15)
            assert first.sender == serbero.rt.settings.serbero_pubkey
            assert first.content.startswith(catalog.texts("es")[catalog.IDENTITY])
            assert first.content.endswith(question)
        # When the parties answer in the chat
        for party, text in ((buyer, "Lo envié a las 10:02"), (seller, "Ahora sí lo veo"),
                            (buyer2, "Pagué, tengo el comprobante"),
                            (seller2, "No recibí nada, es mentira")):
            nostr_loop.run(party.say(text), 10)
        serbero.pump(lambda: serbero.state(agreed) == sessions.SUMMARY_DELIVERED
                     and serbero.state(contested) == sessions.ESCALATED)
        # Then the write solver decrypts the summary, the handoff, and each one's transcript;
        # the read solver only heard that Serbero mediates
        texts = nostr_loop.run(solver_ana.wait_for(8), 15)
        got = dict(zip(subjects(texts), texts, strict=True))
        assert sorted(got) == sorted(["new", "mediating", "summary", "handed off: "
                                      "conflicting_claims", "transcript (4 messages, times UTC)",
                                      "transcript (6 messages, times UTC)"])
        assert "El comprador pagó tarde" in got["summary"]
        assert "escalation_handoff/v1" in got["handed off: conflicting_claims"]
        assert "] buyer: Lo envié a las 10:02" in got["transcript (4 messages, times UTC)"]
        assert sorted(subjects(solver_bo.texts())) == ["mediating", "mediating", "new", "new"]
        # and each party is told, in their language, who has the case now
        for party, entry in ((buyer, catalog.SUMMARY_DELIVERED), (seller2, catalog.HANDED_OFF)):
            assert nostr_loop.run(party.wait_for_messages(2), 15)[-1].content == \
                catalog.texts("es")[entry]
        # When a person takes the contested dispute over, then settles it
        nostr_loop.run(mostro.take(contested), 10)
        serbero.pump(lambda: serbero.state(contested) == sessions.CLOSED)
        nostr_loop.run(mostro.close(contested, "settled"), 10)
        serbero.pump(lambda: serbero.lifecycle(contested) == "resolved")
        # Then Serbero stopped for the person, and every solver gets the report
        assert serbero.session(contested).end_reason == "human_took_over"
        report = nostr_loop.run(solver_bo.wait_for(1, "mediation_resolution_report/v1"), 15)
        assert "Final dispute status: settled" in report[0]
    finally:
        for party in peers:
            nostr_loop.run(party.shutdown(), 10)
