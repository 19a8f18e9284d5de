"""The library-limit sender: nostr-sdk alone wraps NIP-17 DMs and publishes them, with nothing
of Serbero in between. Run by bench_core.py as a subprocess, one per simulated worker process.

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
    Keys,
    PublicKey,
    RelayUrl,
    Tag,
    nip17_make_private_msg,
)

#: Sends waiting for their OK at once; the reference measured 64 as the library's sweet spot.
IN_FLIGHT = 64
#: Throwaway DMs sent before `ready`, so the first measured write does not pay the spike.
WARMUP_DMS = 3


def text_for(tag: str, seq: int) -> str:
    """A DM body as long as Serbero's initial notice, recognisable by the bench."""
    return (f"bench library-limit DM.\nround: {tag}\nseq: {seq:08d}\n"
            "initiator: buyer\nevent_timestamp: 1700000000\nstatus: initiated")


async def run(relay: str, recipients: list[str], count: int, tag: str, offset: int) -> dict:
    client = ClientBuilder().notification_channel_size(65_536).build()
    await client.add_relay(RelayUrl.parse(relay))
    await client.connect(timedelta(seconds=5))
    keys = Keys.generate()
    targets = [PublicKey.parse(r) for r in recipients]
    stranger = Keys.generate().public_key()
    for i in range(WARMUP_DMS):
        await client.send_event(nip17_make_private_msg(keys, stranger, f"warm-up {i}"))
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
    for i in range(count):
        seq = offset + i
        dispute = f"00000000-0000-4000-8000-{seq:012d}"
        wrap = nip17_make_private_msg(keys, targets[seq % len(targets)], text_for(tag, seq),
                                      rumor_extra_tags=[Tag.parse(["d", dispute])])
        await slots.acquire()
        tasks.append(asyncio.create_task(send(wrap)))
        await asyncio.sleep(0)  # let the send start now rather than after the next wrap
    await asyncio.gather(*tasks)
    cpu_s = time.process_time() - cpu0
    await client.shutdown()
    return {"acked": acked, "failed": failed, "started": started, "last_ok": last_ok,
            "cpu_s": cpu_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--relay", required=True)
    parser.add_argument("--recipients", required=True, help="comma-separated hex pubkeys")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0, help="first sequence number")
    parser.add_argument("--tag", default="lib")
    args = parser.parse_args()
    result = asyncio.run(run(args.relay, args.recipients.split(","), args.count, args.tag,
                             args.offset))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
