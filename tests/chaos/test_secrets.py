"""Secrets under load (issue 8, item 4; DESIGN invariant 6): the real `serbero listen` and
`serbero worker` at DEBUG, with mediation on and a model provider configured (its health check
calls a scripted model on loopback with the API key) and a burst of disputes, plus Mostro
replies whose content decrypts to a marker. Every log line, every row of every table and every
Redis key and value seen during the run is scanned: Serbero's private key (hex and nsec) and
the API key appear nowhere, and the decrypted content in no log line above DEBUG.

(The mediation path, with party messages and model output, is scanned the same way through a
real dramatiq worker in tests/reasoning/test_worker_secrets.py.)"""

import asyncio
import threading
import time
from pathlib import Path

import chaos
from nostr_sdk import Nip44Version, nip44_encrypt

from serbero.simulators.model import ScriptedModel

API_KEY = "sk-chaos-4f1c9e2b7a6d"
KEY_ENV = "SERBERO_CHAOS_MODEL_KEY"
#: Decrypted content of the replies: may show at DEBUG, never above.
MARKER = "party-plaintext-9c1e77"
PROMPTS = Path(__file__).resolve().parents[2] / "config" / "prompts"


def reasoning_config(api_base: str) -> str:
    from serbero.config import PromptsSection
    from serbero.reasoning import bundle

    prompts = "\n".join(f'{key} = "{PROMPTS / Path(getattr(PromptsSection(), key)).name}"'
                        for _, key in bundle.FIELDS)
    return (f'\n[reasoning]\nenabled = true\nprovider = "openai-compatible"\nmodel = "scripted"\n'
            f'api_base = "{api_base}"\napi_key_env = "{KEY_ENV}"\n'
            "health_check_interval_seconds = 1\n\n[mediation]\nenabled = true\n\n[prompts]\n"
            + prompts + "\n")


def redis_contents(client, namespace):
    """Every key of the namespace and its values, as text."""
    out = []
    read = {"string": lambda k: [client.get(k)],
            "hash": lambda k: [b for kv in client.hgetall(k).items() for b in kv],
            "list": lambda k: client.lrange(k, 0, -1), "set": lambda k: list(client.smembers(k)),
            "zset": lambda k: client.zrange(k, 0, -1)}
    for key in client.scan_iter(f"{namespace}*", count=1000):
        value = read.get(client.type(key).decode(), lambda k: [])(key)
        out += [key.decode(errors="replace")] + [
            v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in value if v]
    return out


def test_no_secret_in_any_log_line_row_or_redis_message_at_debug(nostr_loop, redis_server):
    model = ScriptedModel(lambda asked: "pong")
    scenario = chaos.Scenario(
        "secrets", "secrets at DEBUG", fault=lambda dep, t0, spread: _nothing(),
        extra_config=reasoning_config(model.api_base),
        extra_env={"SERBERO_LOG": "debug", KEY_ENV: API_KEY})
    dep = chaos.Deployment(chaos.Options(disputes=20, spread_s=2.0, threads=4), scenario,
                           lambda line: None)
    seen_in_redis: list[str] = []
    logs: dict[str, str] = {}
    stop = threading.Event()

    def watch_redis():  # what passes through Redis while the daemon works
        while not stop.wait(0.1):
            seen_in_redis.extend(redis_contents(dep.ws.redis, dep.ws.namespace))

    async def scenario_run():
        await dep.start()
        watcher = threading.Thread(target=watch_redis, daemon=True)
        watcher.start()
        try:
            await dep.warm_up()
            serbero = dep.serbero_keys.public_key()
            for _ in range(5):  # replies from the node, each decrypting to the marker
                content = nip44_encrypt(dep.node.keys.secret_key(), serbero,
                                        f'[{{"dispute":{{"note":"{MARKER}"}}}},null]',
                                        Nip44Version.V2)
                await dep.node.send(_reply(dep.node.keys, content, serbero.to_hex()))
            figures = await dep.burst()
            deadline = time.monotonic() + 10
            while len(model.calls()) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)  # the health check calls the model with the key
            rows = _all_rows()
            return figures, rows
        finally:
            stop.set()
            watcher.join()
            logs.update({c.name: c.log_path.read_text(errors="replace")
                         for c in dep.children})
            await dep.close()

    try:
        figures, rows = nostr_loop.run(scenario_run(), 240)
    finally:
        model.server.shutdown()
    assert figures["lost"] == 0, figures
    assert len(model.calls()) >= 2, "the model was never called: " + "\n".join(
        line for text in logs.values() for line in text.splitlines()
        if "reasoning" in line or "health" in line or "error" in line)[-3000:]
    secret = dep.serbero_keys.secret_key()
    secrets = {"private key (hex)": secret.to_hex(), "private key (nsec)": secret.to_bech32(),
               "API key": API_KEY}
    lines = [line for text in logs.values() for line in text.splitlines()]
    levels = [line.split(" ", 2)[1] if line.count(" ") >= 2 else "" for line in lines]
    assert "debug" in levels, "the daemon did not log at DEBUG"
    assert any("mostro" in line.lower() and "reject" in line for line in lines)
    for name, value in secrets.items():
        assert not [line for line in lines if value in line], f"{name} in a log line"
        assert not [row for row in rows if value in row], f"{name} in a database row"
        assert not [v for v in seen_in_redis if value in v], f"{name} in Redis"
    above_debug = [line for line, level in zip(lines, levels, strict=True) if level != "debug"]
    assert not [line for line in above_debug if MARKER in line]
    assert seen_in_redis, "Redis was never read"


async def _nothing():
    now = time.time()
    return now, now


def _reply(keys, content, to):
    from nostr_sdk import EventBuilder, Kind, Tag

    return EventBuilder(Kind(14), content).tags([Tag.parse(["p", to])]).finalize(keys)


def _all_rows():
    """Every value of every row of every table, as text."""
    from serbero.db.connection import database

    return [repr(row) for table in database.get_tables()
            for row in database.execute_sql(f'SELECT * FROM "{table}"').fetchall()]

