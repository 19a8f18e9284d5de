"""Hostile load (issue 8, item 3): hypothesis-generated hostile events through the real listener
and workers, then one valid dispute.

Every generated event is invalid in at least one way: dispute events (kind 38386) with a bad,
missing or oversized tag, the wrong kind, a future date, a wrong author, a broken id or
signature; Mostro replies to Serbero (gift wraps, kind 14) whose content is garbage or does not
decrypt, signed by the node's key or another; dispute-chat envelopes that fail to decrypt; and
raw text that is not an event at all. Each goes two ways: published to the relay (the listener
sees what its subscriptions match and the relay accepts) and put straight onto the `events`
queue for its actor (what a broken or hostile listener could hand over).

Passes when no process died and none logged an error, no table changed (the listener's cursor
and the heartbeats aside), every rejection was counted by reason (`serbero.rejections`), and a
valid dispute sent afterwards reached every solver within the latency target.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import harness
from chaos import Deployment, Options, Scenario
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

#: The latency target of a notice (bench/bench_core.py, p99 at a low rate), in seconds.
LATENCY_TARGET_S = 0.5
#: Tables whose rows change by design while the daemon runs.
MOVING_TABLES = {"listener_cursors", "process_heartbeats"}
#: The actor each route's events are handed to on the `events` queue.
ACTORS = {"dispute": "ingest_dispute_event", "reply": "ingest_mostro_event",
          "chat": "ingest_chat_event", "garbage": "ingest_dispute_event"}
DISPUTE_FLAWS = ("missing_d", "bad_dispute_id", "missing_s", "unknown_status",
                 "missing_initiator", "unknown_initiator", "oversized_tag", "too_many_tags",
                 "too_many_values", "oversized_content", "future", "wrong_kind", "wrong_author",
                 "bad_signature", "bad_id")
READ_TAGS = ("d", "s", "initiator", "p", "published_at", "created_at")
STATUSES = ("initiated", "in-progress", "settled", "seller-refunded", "released",
            "cooperatively-canceled")

_text = st.text(max_size=40)
_junk_tags = st.lists(st.lists(_text, min_size=1, max_size=4).filter(
    lambda t: t[0] not in READ_TAGS), max_size=5)


def _signed(keys: Any, kind: int, content: str, tags: list[list[str]], at: int) -> str:
    from nostr_sdk import EventBuilder, Kind, Tag, Timestamp

    return (EventBuilder(Kind(kind), content).tags([Tag.parse(t) for t in tags])
            .custom_created_at(Timestamp.from_secs(at)).finalize(keys).as_json())


def _tamper(raw: str, field: str) -> str:
    """A signed event with its signature (or what its id covers) changed afterwards."""
    value = json.loads(raw)
    if field == "sig":
        value["sig"] = ("0" if value["sig"][0] != "0" else "1") + value["sig"][1:]
    else:
        value["content"] += " "
    return json.dumps(value)


def strategies(mostro: Any, serbero_pubkey: str, *, route: str | None = None,
               flaw: str | None = None) -> st.SearchStrategy[tuple[str, str]]:
    """(route, raw event) pairs, every one invalid: of any route, or of `route` alone (a
    dispute event with `flaw`, when given)."""
    from nostr_sdk import Keys, Nip44Version, PublicKey, nip44_encrypt

    now = int(time.time())
    serbero = PublicKey.parse(serbero_pubkey)

    @st.composite
    def dispute(draw: Any) -> tuple[str, str]:
        flawed = flaw or draw(st.sampled_from(DISPUTE_FLAWS))
        dispute_id = str(draw(st.uuids()))
        tags = {"d": [dispute_id], "s": [draw(st.sampled_from(STATUSES))],
                "initiator": [draw(st.sampled_from(("buyer", "seller")))],
                "published_at": [str(now)]}
        kind, content, at, keys = 38386, "", now - draw(st.integers(0, 3000)), mostro
        extra: list[list[str]] = draw(_junk_tags)
        if flawed == "missing_d":
            del tags["d"]
        elif flawed == "bad_dispute_id":
            tags["d"] = [draw(st.one_of(
                _text, st.just(dispute_id + "\n"), st.just(dispute_id.replace("-", "")),
                st.just(dispute_id[:-1] + "g"), st.just(" " + dispute_id)))]
            if tags["d"][0].count("-") == 4 and len(tags["d"][0]) == 36 and all(
                    c in "0123456789abcdefABCDEF-" for c in tags["d"][0]):
                tags["d"] = ["not-a-uuid"]
        elif flawed == "missing_s":
            del tags["s"]
        elif flawed == "unknown_status":
            tags["s"] = [draw(_text.filter(lambda s: s not in STATUSES))]
        elif flawed == "missing_initiator":
            tags["s"], tags["initiator"] = ["initiated"], []
            del tags["initiator"]
        elif flawed == "unknown_initiator":
            tags["s"] = ["initiated"]
            tags["initiator"] = [draw(_text.filter(lambda s: s not in ("buyer", "seller")))]
        elif flawed == "oversized_tag":
            extra.append(["x", "y" * draw(st.integers(257, 4000))])
        elif flawed == "too_many_tags":
            extra += [["t", str(i)] for i in range(draw(st.integers(33, 200)))]
        elif flawed == "too_many_values":
            extra.append(["t", *[str(i) for i in range(draw(st.integers(9, 40)))]])
        elif flawed == "oversized_content":
            content = draw(st.text(min_size=1025, max_size=3000))
        elif flawed == "future":
            # beyond the hour of skew allowed, by more than the run lasts
            at = now + 3600 + 1800 + draw(st.integers(0, 10**6))
        elif flawed == "wrong_kind":
            kind = draw(st.integers(0, 65535).filter(lambda k: k != 38386))
        elif flawed == "wrong_author":
            keys = Keys.generate()
        # the tags Serbero reads come first: a junk copy of one never counts
        raw = _signed(keys, kind, content,
                      [[name, *values] for name, values in tags.items()] + extra, at)
        if flawed in ("bad_signature", "bad_id"):
            raw = _tamper(raw, "sig" if flawed == "bad_signature" else "content")
        return "dispute", raw

    @st.composite
    def reply(draw: Any) -> tuple[str, str]:
        """A reply to Serbero whose content is garbage: plain text, or encrypted garbage."""
        wrap = draw(st.booleans())
        signer = Keys.generate() if wrap or draw(st.booleans()) else mostro
        garbage = draw(st.one_of(_text, st.just("[]"), st.just('{"order":{}}'),
                                 st.just('[{"dispute":{"version":1}},null]')))
        content = (nip44_encrypt(signer.secret_key(), serbero, garbage or "x", Nip44Version.V2)
                   if draw(st.booleans()) else garbage)
        return "reply", _signed(signer, 1059 if wrap else 14, content,
                                [["p", serbero_pubkey]], now - draw(st.integers(0, 60)))

    @st.composite
    def chat(draw: Any) -> tuple[str, str]:
        """A dispute-chat envelope that fails to decrypt, to a key of Serbero's or not."""
        signer = Keys.generate() if draw(st.booleans()) else mostro
        to = serbero_pubkey if draw(st.booleans()) else Keys.generate().public_key().to_hex()
        content = draw(st.one_of(_text, st.binary(max_size=200).map(lambda b: b.hex())))
        return "chat", _signed(signer, 14, content, [["p", to]], now)

    garbage = st.one_of(
        st.text(max_size=200), st.just("null"), st.just("[]"), st.just("1e999"),
        st.integers(1000, 8000).map(lambda n: "[" * n + "]" * n),
        st.integers(17_000, 40_000).map(lambda n: '{"kind":38386,"content":"' + "a" * n + '"}'),
        st.dictionaries(_text, _text, max_size=5).map(json.dumps),
    ).map(lambda raw: ("garbage", raw))
    routes = {"dispute": dispute(), "reply": reply(), "chat": chat(), "garbage": garbage}
    return routes[route] if route else st.one_of(*routes.values())


def generate(count: int, mostro: Any, serbero_pubkey: str) -> list[tuple[str, str]]:
    """`count` hostile (route, raw) pairs drawn by hypothesis (generation only, no shrinking):
    one of every route and of every dispute flaw first, so that each rejection reason is drawn
    whatever the draw (a run of the suite once counted no bad signature), then any."""
    first = [strategies(mostro, serbero_pubkey, route=r) for r in ACTORS if r != "dispute"]
    first += [strategies(mostro, serbero_pubkey, route="dispute", flaw=f) for f in DISPUTE_FLAWS]
    drawn = [case for strategy in first for case in _draw(strategy, 1)]
    return (drawn + _draw(strategies(mostro, serbero_pubkey), count - len(drawn)))[:count]


def _draw(strategy: st.SearchStrategy[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    drawn: list[tuple[str, str]] = []

    @settings(max_examples=max(count, 1), database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case: tuple[str, str]) -> None:
        drawn.append(case)

    while len(drawn) < count:
        collect()
    return drawn[:count]


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the moving ones, sorted."""
    from serbero.db.connection import database

    return {t: sorted(database.execute_sql(f'SELECT * FROM "{t}"').fetchall(), key=repr)
            for t in database.get_tables() if t not in MOVING_TABLES}


async def run(count: int, opts: Options, log: Callable[[str], None] = lambda line: None,
              *, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Send `count` hostile events through a deployment of its own; the figures."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    from serbero import redis_store
    from serbero.errors import PublishError
    from serbero.nostr.relays import publish
    from serbero.rejections import KEY

    scenario = Scenario("hostile", f"{count} hostile events", fault=None,  # type: ignore[arg-type]
                        extra_env=extra_env or {})
    dep = Deployment(opts, scenario, log)
    try:
        await dep.start()
        await dep.warm_up()
        serbero_pubkey = dep.serbero_keys.public_key().to_hex()
        cases = await asyncio.to_thread(generate, count, dep.node.keys, serbero_pubkey)
        routes = Counter(route for route, _ in cases)
        await asyncio.sleep(1.0)  # the warm-up's rows settle
        before = snapshot()
        started = time.monotonic()
        slots = asyncio.Semaphore(64)
        accepted = Counter()

        async def send(route: str, raw: str) -> None:
            from nostr_sdk import Event

            try:
                event = Event.from_json(raw)
                await publish(dep.node.client, event)
                accepted[route] += 1
            except (PublishError, Exception):  # the relay refused it, or it is no event
                pass
            finally:
                slots.release()

        tasks = []
        for route, raw in cases:
            await slots.acquire()
            tasks.append(asyncio.create_task(send(route, raw)))
        await asyncio.gather(*tasks)
        producer = RedisBroker(url=dep.ws.redis_url, namespace=dep.ws.namespace)
        try:
            for route, raw in cases:
                producer.enqueue(dramatiq.Message(queue_name="events", actor_name=ACTORS[route],
                                                  args=(raw,), kwargs={}, options={}))
        finally:
            producer.close()

        def drained() -> bool:
            dep.check_alive()
            return all(dep.ws.queue_depth(q) == 0 for q in ("events", "notify"))
        ok_drained = await asyncio.to_thread(harness.wait_until, drained, 120 + count / 50, 0.2)
        sent_s = time.monotonic() - started
        await asyncio.sleep(1.0)
        after = snapshot()
        changed = {t: (len(before.get(t, [])), len(rows)) for t, rows in after.items()
                   if rows != before.get(t, [])}
        counted = {k.decode(): int(v) for k, v in dep.ws.redis.hgetall(
            redis_store.key(dep.ws.namespace, KEY)).items()}
        # then one valid dispute, timed from its publication to the last solver's inbox
        t0 = time.time()
        valid = await dep.node.open_dispute()
        reached = await dep.wait_notified([valid], t0 + 30)
        dep.scan()
        arrivals = [dep.tally.arrived[w] for s in range(opts.solvers)
                    for w in dep.tally.wraps.get((s, valid), ())]
        latency = max(arrivals) - t0 if reached and arrivals else float("nan")
        errors = _error_lines(dep)
        result = {
            "events": count, "routes": dict(routes), "relay_accepted": dict(accepted),
            "queued": count, "drained": ok_drained, "took_s": round(sent_s, 1),
            "processes_alive": all(c.proc.poll() is None for c in dep.children),
            "error_lines": errors[:5], "error_line_count": len(errors),
            "changed_tables": changed, "rejections": dict(sorted(counted.items())),
            "rejections_total": sum(counted.values()),
            # each event but a chat envelope is counted once on its way through the queue at
            # least; an envelope of no mediation session is dropped as such, not as a rejection
            "must_be_counted": count - routes["chat"],
            "valid_dispute_latency_s": round(latency, 3), "latency_target_s": LATENCY_TARGET_S,
        }
        result["passed"] = bool(
            ok_drained and result["processes_alive"] and not errors and not changed
            and result["rejections_total"] >= result["must_be_counted"]
            and latency <= LATENCY_TARGET_S)
        if not result["passed"]:
            dep.ws.keep = True
            result["logs"] = str(dep.ws.root)
        return result
    finally:
        await dep.close()


def _error_lines(dep: Deployment) -> list[str]:
    """Lines at level error or above, and tracebacks, in every process's log."""
    found = []
    for child in dep.children:
        try:
            text = child.log_path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split(" ", 3)
            if (len(parts) > 2 and parts[1] in ("error", "critical")) or "Traceback" in line:
                found.append(f"{child.name}: {line[:300]}")
    return found


def report(r: dict[str, Any]) -> str:
    routes = ", ".join(f"{k} {v}" for k, v in r["routes"].items())
    accepted = sum(r["relay_accepted"].values())
    lines = [f"   {r['events']} hostile events ({routes}), each published to the relay "
             f"({accepted} accepted) and "
             f"put on the events queue; drained in {r['took_s']} s",
             f"   processes alive: {r['processes_alive']}; error lines: {r['error_line_count']}; "
             f"tables changed: {r['changed_tables'] or 'none'}",
             f"   rejections counted: {r['rejections_total']} (at least {r['must_be_counted']}: "
             "every event but the chat envelopes, which no session owns) by reason:"]
    lines += [f"     {reason:32} {n}" for reason, n in r["rejections"].items()]
    lines.append(f"   a valid dispute afterwards reached every solver in "
                 f"{r['valid_dispute_latency_s'] * 1000:.0f} ms (target "
                 f"{r['latency_target_s'] * 1000:.0f} ms)")
    lines.append(f"   {'PASS' if r['passed'] else 'FAIL'}"
                 + (f" (logs kept in {r['logs']})" if r.get("logs") else ""))
    return "\n".join(lines)
