"""Mediation load benchmark (issue 12): does mediation delay new-dispute notices? The real
`serbero listen` and `serbero worker` processes, with mediation on, against the in-process relay,
the simulated Mostro node (answering takes as mostrod does) and a scripted model on loopback.

Phases, after the core bench's warm-up: (1) new-dispute notice latency with no session alive;
(2) N disputes become live sessions whose 2N simulated parties keep chatting (each party writes
ten messages a minute; Serbero evaluates each pause and asks a new round); (3) the same latency
phase again while they chat. The target is the core one (p99 ≤ 500 ms, no DM lost) for phase 3;
the ratio of the two p99s is printed too. Measured disputes are refused by the node when Serbero
asks to take them, so their own mediation costs a classification and a take request but adds
no session. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import bench_core
import harness
from bench_core import Bench, Options, verdict, wait_for
from harness import Workspace

KEY_ENV = "SERBERO_BENCH_MODEL_KEY"
#: Seconds between a party's messages while it chats: ten a minute, as fast as the default
#: flood limit lets a party write; the pauses are longer than the quiet period (2 s here, 20 s
#: by default), so Serbero evaluates every exchange and answers with a new round.
CHAT_EVERY_S = 6.0
QUIET_S = 2


class MediationBench(Bench):
    def __init__(self, opts: Options, ws: Workspace, sessions: int) -> None:
        super().__init__(opts, ws)
        self.sessions = sessions
        self.live: set[str] = set()
        self.parties: list[Any] = []
        self.model: Any = None
        self.responder: Any = None
        self.chatting = False
        self.said = 0

    def script(self, asked: Any) -> Any:
        from serbero.simulators.model import classification

        if asked.dispute_id in self.live:  # keep the session going: always one more question
            return classification("ask_clarification", buyer="And after that?",
                                  seller="And on your side?", confidence=0.9)
        return classification("ask_clarification", buyer="When?", seller="Where?")

    def extra_config(self) -> str:
        from serbero.simulators.model import ScriptedModel

        self.model = ScriptedModel(self.script)
        prompts = Path(__file__).resolve().parents[1] / "config" / "prompts"
        files = {"system_instructions_path": "phase3-system.md",
                 "classification_policy_path": "phase3-classification.md",
                 "escalation_policy_path": "phase3-escalation-policy.md",
                 "mediation_style_path": "phase3-mediation-style.md",
                 "message_templates_path": "phase3-message-templates.md"}
        return "\n".join([
            "[mediation]", "enabled = true", "max_rounds = 1000",
            f"quiet_period_seconds = {QUIET_S}", "max_messages_per_minute = 1000",
            "party_response_timeout_seconds = 0", "reminder_after_seconds = 0", "",
            "[reasoning]", "enabled = true", 'provider = "openai-compatible"',
            'model = "bench-scripted"', f'api_base = "{self.model.api_base}"',
            f'api_key_env = "{KEY_ENV}"', "followup_retry_count = 0", "",
            "[prompts]", *(f'{key} = "{prompts / name}"' for key, name in files.items()), ""])

    def extra_env(self) -> dict[str, str]:
        return {KEY_ENV: "bench"}

    async def start(self) -> None:
        from serbero.simulators.mostro_responder import MostroResponder

        await super().start()
        self.responder = await MostroResponder(self.node, serbero=self._serbero_pubkey()
                                               ).connect([self.url])
        await self.responder.announce()
        await asyncio.sleep(2.0)  # the listener records the announcement

    def _serbero_pubkey(self) -> str:
        from serbero import config

        return config.load(self.config, environ={KEY_ENV: "bench"}).serbero_pubkey

    async def _publish_paced(self, count: int, interval_s: float) -> list[str]:
        ids = []
        start = time.perf_counter() + 0.05
        for i in range(count):
            delay = start + i * interval_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            dispute = str(uuid.uuid4())
            self.responder.behaviour[dispute] = "cant-do:not_found"  # no session of its own
            event = self.node.revision(dispute, "initiated")
            self.published[dispute] = time.perf_counter()
            await self.node.send(event)
            ids.append(dispute)
        return ids

    async def open_sessions(self) -> None:
        from serbero.simulators.party import SimulatedParty

        print(f"\n[2/3] {self.sessions} disputes become live sessions…", flush=True)
        ids = []
        for _ in range(self.sessions):
            dispute = str(uuid.uuid4())
            self.live.add(dispute)
            order = self.responder.order_for(dispute)
            for keys, role in ((order.buyer, "buyer"), (order.seller, "seller")):
                self.parties.append(await SimulatedParty(keys, mostro_pubkey=self.node.pubkey,
                                                         role=role).connect([self.url]))
            await self.node.send(self.node.revision(dispute, "initiated"))
            ids.append(dispute)
        ok = await wait_for(lambda: all(p.received for p in self.parties), 90, 0.2)
        opened = sum(1 for p in self.parties if p.received) // 2
        print(f"   {opened} of {self.sessions} sessions asked both parties their opening "
              "question", flush=True)
        if not ok:
            raise RuntimeError("sessions did not open; see the logs in " + str(self.ws.root))

    async def chat(self) -> None:
        """Every party writes every CHAT_EVERY_S seconds, staggered, until told to stop."""
        self.chatting = True
        offsets = [i * CHAT_EVERY_S / len(self.parties) for i in range(len(self.parties))]
        started = time.perf_counter()
        n = 0
        while self.chatting:
            for party, offset in zip(self.parties, offsets, strict=True):
                due = started + offset + n * CHAT_EVERY_S
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not self.chatting:
                    return
                await party.say(f"message {n} from the {party.role}")
                self.said += 1
            n += 1

    def counts(self) -> dict[str, int]:
        from serbero.db import open_database
        from serbero.mediation.models import MediationMessage

        open_database(self.ws.db_url)
        rows = MediationMessage.select(MediationMessage.direction)
        return {"inbound": rows.where(MediationMessage.direction == "inbound").count(),
                "outbound": rows.where(MediationMessage.direction == "outbound").count(),
                "model_calls": len(self.model.calls())}

    async def run(self) -> None:
        loads = [harness.loadavg()]
        await self.start()
        self.results["code"] = self.code_under_test()
        await self.warm_up()
        await self.latency(label="[1/3] latency, no session alive", key="quiet")
        await self.open_sessions()
        chatter = asyncio.create_task(self.chat())
        await asyncio.sleep(2 * CHAT_EVERY_S)  # the chat reaches its steady pace
        before = self.counts()
        await self.latency(label=f"[3/3] latency while {self.sessions} sessions chat",
                           key="chatting")
        after = self.counts()
        self.chatting = False
        await chatter
        self.results["chat"] = {k: after[k] - before[k] for k in after}
        self.results["chat"]["party_messages_sent"] = self.said
        loads.append(harness.loadavg())
        self.results["load"] = loads

    async def close(self) -> None:
        for party in self.parties:
            await party.shutdown()
        if self.responder is not None:
            await self.responder.shutdown()
        if self.model is not None:
            self.model.close()
        await super().close()


def report(bench: MediationBench) -> bool:
    res, opts = bench.results, bench.opts
    quiet, busy, chat = res["quiet"], res["chatting"], res["chat"]
    print("\n" + "=" * 78)
    print(f"Serbero mediation load benchmark: {bench.sessions} live sessions chatting, "
          f"{opts.latency_disputes} new disputes per latency phase, S={opts.solvers}, "
          f"W={opts.workers}x{opts.threads}")
    print(f"code under test: {res.get('code', '?')}; load average {res['load'][0]} → "
          f"{res['load'][-1]}")
    for name, lat in (("no session alive", quiet), (f"{bench.sessions} sessions chatting", busy)):
        print(f"   notice latency, {name}: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} "
              f"ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms; "
              f"{lat['lost']} lost, {lat['duplicates']} duplicated")
    for name, lat in (("no session alive", quiet), ("sessions chatting", busy)):
        print(f"   CPU seconds, {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                  lat["cpu_s"].items()))
    print(f"   during the measured phase: {chat['inbound']} party messages ingested, "
          f"{chat['outbound']} Serbero messages written, {chat['model_calls']} model calls")
    ratio = busy["p99_ms"] / quiet["p99_ms"] if quiet["p99_ms"] else float("nan")
    print(f"   p99 while chatting / p99 with no session: {ratio:.2f}")
    ok = busy["p99_ms"] <= bench_core.TARGET_P99_MS and busy["lost"] == 0 \
        and busy["p50_ms"] <= bench_core.TARGET_P50_MS
    print(f"   {verdict(ok)}  p50 ≤ {bench_core.TARGET_P50_MS} ms and p99 ≤ "
          f"{bench_core.TARGET_P99_MS} ms with every notice delivered, while sessions chat")
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Serbero mediation load benchmark.")
    p.add_argument("--sessions", type=int, default=20, help="live sessions chatting")
    p.add_argument("--latency-disputes", type=int, default=100)
    p.add_argument("--rate-ms", type=float, default=100)
    p.add_argument("--solvers", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--db-url", default=None)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args(argv)
    opts = bench_core.parse_args([
        "--disputes", str(a.latency_disputes), "--solvers", str(a.solvers),
        "--workers", str(a.workers), "--threads", str(a.threads), "--rate-ms", str(a.rate_ms),
        "--redis-url", a.redis_url, *(["--db-url", a.db_url] if a.db_url else []),
        *(["--keep"] if a.keep else [])])
    ws = Workspace(redis_url=opts.redis_url, pg_url=opts.db_url, keep=opts.keep)
    bench = MediationBench(opts, ws, a.sessions)

    async def amain() -> bool:
        from nostr_sdk import uniffi_set_event_loop

        uniffi_set_event_loop(asyncio.get_running_loop())
        try:
            await bench.run()
        finally:
            await bench.close()
        return report(bench)

    try:
        return 0 if asyncio.run(amain()) else 1
    except Exception:
        ws.keep = True
        print(f"logs kept in {ws.root}", file=sys.stderr)
        raise
    finally:
        bench.stop_processes()
        ws.cleanup()


if __name__ == "__main__":
    sys.exit(main())
