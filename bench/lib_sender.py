"""The library-limit sender: nostr-sdk alone builds the DMs the daemon sends and publishes them,
with nothing of Serbero in between. Run by bench_core.py as a subprocess (one per worker process
of the daemon), never in the bench process: that one hosts the relay and the receiving solver
inboxes, whose work would otherwise slow the probe down and read the limit low.

`--form` picks the daemon's message form (`[notifications] format`): `mostro-v2`, a Mostro v2
`send-dm` (kind 14, NIP-44 from the sender's key, content `[message, null, null]`), or
`nip17-original`, a NIP-17 gift wrap with a `d` tag. `--text-length` pads the text to the length
of the daemon's notice.

`--answer PUBKEY` makes it the bench's ceiling instead: subscribed to that Mostro node's dispute
events, it answers each new dispute with one DM per recipient, so that nostr-sdk alone does the
daemon's whole job (receive, build, send) with no queue and no database.

It installs the byte copy into nostr-sdk's bindings that Serbero's own processes install
(`serbero/nostr/bindings.py`), so that the limit is the library as the daemon runs it: without
it the probe pays a per-byte copy the daemon does not, and reads the limit low.

Protocol on stdio: after connecting (and paying the first-write Nagle spike on a throwaway
recipient) it prints `ready`; it starts when a line arrives on stdin, and finally prints one
JSON line: DMs acknowledged by the relay, failures, and the CLOCK_MONOTONIC instants
(`time.perf_counter()`, comparable across processes on Linux) of its first wrap and last OK.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta

from nostr_sdk import (
    ClientBuilder,
    Event,
    EventBuilder,
    Filter,
    Keys,
    Kind,
    Nip44Version,
    PublicKey,
    RelayUrl,
    ReqTarget,
    Tag,
    Timestamp,
    nip17_make_private_msg,
    nip44_encrypt,
)

from serbero.disputes.events import DISPUTE_KIND
from serbero.nostr import bindings

#: Sends waiting for their OK at once; the reference measured 64 as the library's sweet spot.
IN_FLIGHT = 64
#: Throwaway DMs sent before `ready`, so the first measured write does not pay the spike.
WARMUP_DMS = 3
MOSTRO_V2, NIP17 = "mostro-v2", "nip17-original"
#: How long an answering sender waits for the next dispute event before it reports.
ANSWER_IDLE_S = 10
#: How far back an answering sender asks for dispute events: the bench signs its burst before
#: the sender starts.
LOOKBACK_S = 300
#: mostro-core's PROTOCOL_VER, as the daemon stamps it on a v2 message.
PROTOCOL_VERSION = 2


def text_for(tag: str, seq: int, length: int = 0) -> str:
    """A DM body recognisable by the bench, padded to `length` characters (Serbero's notice)."""
    text = (f"bench library-limit DM.\nround: {tag}\nseq: {seq:08d}\n"
            "initiator: buyer\nevent_timestamp: 1700000000\nstatus: initiated")
    return text + "\n" + "x" * (length - len(text) - 1) if length > len(text) + 1 else text


def send_dm(keys: Keys, to: PublicKey, text: str, dispute: str) -> Event:
    """A Mostro v2 `send-dm` as the daemon builds one, with nostr-sdk alone."""
    message = {"dm": {"version": PROTOCOL_VERSION, "request_id": None, "trade_index": None,
                      "id": dispute, "action": "send-dm", "payload": {"text_message": text}}}
    content = json.dumps([message, None, None], separators=(",", ":"), ensure_ascii=False)
    ciphertext = nip44_encrypt(keys.secret_key(), to, content, Nip44Version.V2)
    return (EventBuilder(Kind(14), ciphertext).tags([Tag.parse(["p", to.to_hex()])])
            .finalize_unsigned(keys.public_key()).sign(keys))


def build(form: str, keys: Keys, to: PublicKey, text: str, dispute: str) -> Event:
    if form == MOSTRO_V2:
        return send_dm(keys, to, text, dispute)
    return nip17_make_private_msg(keys, to, text, rumor_extra_tags=[Tag.parse(["d", dispute])])


async def run(relay: str, recipients: list[str], count: int, tag: str, offset: int, *,
              form: str = NIP17, text_length: int = 0, answer: str | None = None) -> dict:
    """Send `count` DMs to `recipients` in turn; or, with `answer` (a Mostro node's hex key),
    answer each of that node's new dispute events with one DM per recipient until `count`
    DMs are acknowledged: nostr-sdk alone doing the daemon's whole job, with no queue and no
    database, which is the ceiling of any daemon on this host."""
    client = ClientBuilder().notification_channel_size(65_536).build()
    await client.add_relay(RelayUrl.parse(relay))
    await client.connect(timedelta(seconds=5))
    keys = Keys.generate()
    targets = [PublicKey.parse(r) for r in recipients]
    stranger = Keys.generate().public_key()
    for i in range(WARMUP_DMS):
        await client.send_event(build(form, keys, stranger, f"warm-up {i}",
                                      "00000000-0000-4000-8000-000000000000"))
    disputes, consumer = await _answering(client, answer) if answer else (None, None)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)

    slots = asyncio.Semaphore(IN_FLIGHT)
    acked = failed = 0
    last_ok = 0.0

    async def send(event) -> None:
        nonlocal acked, failed, last_ok
        try:
            out = await client.send_event(event)
            if out.success:
                acked += 1
                last_ok = time.perf_counter()
            else:
                failed += 1
        except Exception:
            failed += 1
        finally:
            slots.release()

    started = time.perf_counter()
    cpu0 = time.process_time()
    tasks = []
    for seq in range(offset, offset + count):
        if disputes is None:
            dispute, to = f"00000000-0000-4000-8000-{seq:012d}", targets[seq % len(targets)]
        else:
            if seq % len(targets) == 0:
                try:
                    dispute = await asyncio.wait_for(disputes.get(), ANSWER_IDLE_S)
                except TimeoutError:
                    break  # the relay dropped some events: report what was answered
            to = targets[seq % len(targets)]
        wrap = build(form, keys, to, text_for(tag, seq, text_length), dispute)
        await slots.acquire()
        tasks.append(asyncio.create_task(send(wrap)))
        await asyncio.sleep(0)  # let the send start now rather than after the next wrap
    await asyncio.gather(*tasks)
    cpu_s = time.process_time() - cpu0
    if consumer is not None:
        consumer.cancel()
    await client.shutdown()
    return {"acked": acked, "failed": failed, "started": started, "last_ok": last_ok,
            "cpu_s": cpu_s}


async def _answering(client, node: str) -> tuple[asyncio.Queue[str], asyncio.Task[None]]:
    """Subscribe to `node`'s new dispute events; the ids of the disputes they open, as they
    arrive (each once, as a daemon's de-duplication would), and the task that reads them."""
    stream = client.notifications()  # taken before subscribing, or events are lost
    await client.subscribe(ReqTarget.auto([Filter().kind(Kind(DISPUTE_KIND))
                                           .author(PublicKey.parse(node))
                                           .since(Timestamp.from_secs(
                                               int(time.time()) - LOOKBACK_S))]))
    opened: asyncio.Queue[str] = asyncio.Queue()
    seen: set[str] = set()

    async def consume() -> None:
        while (n := await stream.next()) is not None:
            if not n.is_new_event():
                continue
            tags = {t[0]: t[1:] for t in json.loads(n.event.as_json())["tags"] if t}
            dispute = (tags.get("d") or [None])[0]
            if (tags.get("s") or [None])[0] == "initiated" and dispute and dispute not in seen:
                seen.add(dispute)
                opened.put_nowait(dispute)

    return opened, asyncio.create_task(consume())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--relay", required=True)
    parser.add_argument("--recipients", required=True, help="comma-separated hex pubkeys")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0, help="first sequence number")
    parser.add_argument("--tag", default="lib")
    parser.add_argument("--form", choices=[MOSTRO_V2, NIP17], default=NIP17)
    parser.add_argument("--text-length", type=int, default=0)
    parser.add_argument("--answer", metavar="PUBKEY", default=None,
                        help="answer this Mostro node's new dispute events, one DM per "
                        "recipient each, instead of sending DMs of its own")
    args = parser.parse_args()
    bindings.apply()
    result = asyncio.run(run(args.relay, args.recipients.split(","), args.count, args.tag,
                             args.offset, form=args.form, text_length=args.text_length,
                             answer=args.answer))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
