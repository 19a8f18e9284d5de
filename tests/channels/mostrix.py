"""A solver's client that reads Serbero's messages the way Mostrix does, written from the wire
facts alone (reference/upstream-0.2.md §1, mostro-protocol.md §2) with nostr-sdk and json; it
shares no code with Serbero's own encoder, so a test built on it checks the format itself.

Acceptance, as Mostrix's `parse_solver_dm`: kind 14; author in `trusted`; the signature checks
out; NIP-44 decrypts with (our secret, author); the content is the v2 tuple whose message has
action `send-dm` and a `text_message` payload. Anything else is ignored. The dispute is the
message's `id`, else a UUID in the first two lines.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import timedelta

from nostr_sdk import (
    ClientBuilder,
    Event,
    Filter,
    Keys,
    Kind,
    NostrSdkError,
    PublicKey,
    RelayUrl,
    ReqTarget,
    Timestamp,
    nip44_decrypt,
)

HEADER_SEPARATOR = " \u00b7 "
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class SolverDm:
    event_id: str
    sender: str
    dispute_id: str | None
    subject: str
    text: str
    #: The decrypted content, as sent, for checks of its exact shape.
    content: list

    @property
    def needs_action(self) -> bool:
        """Mostrix's take-over banner."""
        return self.subject.startswith(("handed off", "mediation could not start"))

    @property
    def message(self) -> dict:
        return self.content[0]["dm"]


def subject_of(text: str) -> str:
    first = text.split("\n", 1)[0].strip()
    head, sep, subject = first.partition(HEADER_SEPARATOR)
    return subject.strip() if sep and head.startswith("Dispute ") else first


def parse(event: Event, keys: Keys, trusted: list[str]) -> SolverDm | None:
    """The message, if Mostrix would accept it; None otherwise."""
    if event.kind().as_u16() != 14 or event.author().to_hex() not in trusted:
        return None
    if not event.verify():
        return None
    try:
        plain = nip44_decrypt(keys.secret_key(), event.author(), event.content())
        content = json.loads(plain)
        message, _trade_sig, _identity = content
        [(_wrapper, kind)] = message.items()
    except (NostrSdkError, ValueError, TypeError, AttributeError):
        return None
    payload = kind.get("payload")
    if kind.get("action") != "send-dm" or not isinstance(payload, dict) \
            or not isinstance(payload.get("text_message"), str):
        return None
    text = payload["text_message"]
    found = _UUID.search("\n".join(text.split("\n")[:2]))
    dispute_id = kind.get("id") or (found.group(0) if found else None)
    return SolverDm(event.id().to_hex(), event.author().to_hex(), dispute_id, subject_of(text),
                    text, content)


class MostrixInbox:
    """A solver (or a watchdog) that trusts `trusted` senders and keeps what it accepts."""

    def __init__(self, trusted: list[str], keys: Keys | None = None) -> None:
        self.keys = keys or Keys.generate()
        self.trusted = trusted
        self.accepted: list[SolverDm] = []
        self.ignored: list[str] = []
        self._client = None
        self._task: asyncio.Task | None = None

    @property
    def pubkey(self) -> str:
        return self.keys.public_key().to_hex()

    async def connect(self, relay: str) -> MostrixInbox:
        self._client = ClientBuilder().notification_channel_size(65_536).build()
        await self._client.add_relay(RelayUrl.parse(relay))
        await self._client.connect(timedelta(seconds=3))
        stream = self._client.notifications()
        await self._client.subscribe(ReqTarget.auto([
            Filter().kind(Kind(14)).pubkey(PublicKey.parse(self.pubkey))
            .since(Timestamp.from_secs(int(time.time()) - 30 * 86400))]))
        self._task = asyncio.create_task(self._consume(stream))
        return self

    async def _consume(self, stream) -> None:
        while (n := await stream.next()) is not None:
            if n.is_new_event():
                dm = parse(n.event, self.keys, self.trusted)
                if dm is None:
                    self.ignored.append(n.event.id().to_hex())
                else:
                    self.accepted.append(dm)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[SolverDm]:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.accepted)} of {count} messages after {timeout}s")
            await asyncio.sleep(0.05)
        return list(self.accepted)

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._client is not None:
            await self._client.shutdown()
