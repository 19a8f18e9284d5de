"""A simulated buyer or seller: a Mostro client holding one trade key. It learns the solver's key
from the node's `admin-took-dispute` `peer` notice, derives its side of the chat keys from its
trade key, and exchanges kind-14 chat with the solver, accepting only messages signed by the
solver or itself, as Mostro mobile does. It can also send what old clients sent (legacy
kind-1059 chat) and attachments, so tests can see Serbero read them.

Test support for the suite and `serbero demo`; never used by the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterable

from nostr_sdk import (
    Client,
    ClientNotificationStream,
    Event,
    EventBuilder,
    Filter,
    Keys,
    Kind,
    Nip44Version,
    PublicKey,
    ReqTarget,
    Tag,
    Timestamp,
    nip44_encrypt,
)

from serbero.errors import EventRejected
from serbero.mostro import chat, protocols, replies, signing, transport
from serbero.mostro.chat_receive import ChatGuard, ChatMessage, open_chat_event
from serbero.nostr.relays import open_client, publish
from serbero.simulators.peer import ListeningPeer

LOOKBACK_S = 3 * 86400
SUB_MOSTRO, SUB_CHAT = "party-mostro", "party-chat"


class SimulatedParty(ListeningPeer):
    def __init__(self, keys: Keys | None = None, *, mostro_pubkey: str,
                 role: str = "buyer") -> None:
        self.keys = keys or Keys.generate()
        self.mostro_pubkey = mostro_pubkey
        self.role = role
        self.solver_pubkey: str | None = None
        self.order_id: str | None = None
        self.chat_keys: chat.ChatKeys | None = None
        self.received: list[ChatMessage] = []
        self.rejected: list[str] = []
        self.client: Client | None = None
        self._guard = ChatGuard()
        self._seen_inner: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def pubkey(self) -> str:
        return self.keys.public_key().to_hex()

    async def connect(self, relays: Iterable[str]) -> SimulatedParty:
        self.client = await open_client(relays)
        stream = self.client.notifications()
        since = Timestamp.from_secs(int(time.time()) - LOOKBACK_S)
        await self.client.subscribe(ReqTarget.auto([
            Filter().kinds([Kind(k) for k in sorted(protocols.kinds())])
            .pubkey(self.keys.public_key()).since(since)]), id=SUB_MOSTRO)
        self._task = asyncio.create_task(self._consume(stream))
        return self

    async def _consume(self, stream: ClientNotificationStream) -> None:
        while (n := await stream.next()) is not None:
            if not n.is_new_event():
                continue
            if n.subscription_id == SUB_MOSTRO:
                await self._from_mostro(n.event.as_json())
            elif n.subscription_id == SUB_CHAT:
                self._from_chat(n.event.as_json())
            self._changed.set()

    async def _from_mostro(self, raw: str) -> None:
        try:
            opened = transport.open_event(raw, keys=self.keys, now=int(time.time()),
                                          expected_sender=self.mostro_pubkey)
            content = signing.decode(opened.content, transport=opened.transport,
                                     author=opened.author)
            notice = replies.peer_notice(content.message)
        except EventRejected as rejected:
            self.rejected.append(f"mostro:{rejected.reason}")
            return
        assert self.client is not None
        if self.chat_keys is not None:  # a takeover: follow the new solver's channel instead
            await self.client.unsubscribe(SUB_CHAT)
        self.solver_pubkey, self.order_id = notice.peer.pubkey, notice.order_id
        self.chat_keys = chat.derive_chat_keys(self.keys.secret_key().to_hex(), notice.peer.pubkey)
        since = int(time.time()) - LOOKBACK_S
        await self.client.subscribe(ReqTarget.auto([chat.subscription_filter(self.chat_keys,
                                                                             since)]), id=SUB_CHAT)

    def _from_chat(self, raw: str) -> None:
        assert self.chat_keys is not None and self.solver_pubkey is not None
        try:
            message = open_chat_event(
                raw, self.chat_keys, allowed_signers={self.pubkey, self.solver_pubkey},
                now=int(time.time()), guard=self._guard,
                is_new_inner=lambda inner_id: inner_id not in self._seen_inner)
        except EventRejected as rejected:
            self.rejected.append(f"chat:{rejected.reason}")
            return
        self._seen_inner.add(message.inner_id)
        self.received.append(message)

    async def _wait(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.role}: {what} after {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    async def wait_for_solver(self, timeout: float = 10.0) -> str:
        await self._wait(lambda: self.chat_keys is not None, "no peer notice", timeout)
        assert self.solver_pubkey is not None
        return self.solver_pubkey

    async def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[ChatMessage]:
        await self._wait(lambda: len(self.received) >= count,
                         f"{len(self.received)} of {count} messages", timeout)
        return self.received

    async def publish(self, event: Event) -> Event:
        assert self.client is not None
        await publish(self.client, event)
        return event

    def _keys(self) -> chat.ChatKeys:
        if self.chat_keys is None:
            raise RuntimeError(f"{self.role} has no chat keys yet: no peer notice received")
        return self.chat_keys

    async def say(self, text: str, *, created_at: int | None = None) -> Event:
        """Send a kind-14 chat message to the solver, as mobile does (with a random `u` tag)."""
        now = created_at if created_at is not None else int(time.time())
        return await self.publish(chat.build_message(
            self.keys, self._keys(), text, now=now,
            inner_tags=[["u", secrets.token_hex(8)]]))

    async def share_file(self, *, filename: str = "receipt.jpg",
                         mime_type: str = "image/jpeg", size: int = 48_213) -> Event:
        """An attachment descriptor as mobile sends it (the blob itself is not uploaded)."""
        descriptor = {"type": "image_encrypted", "blossom_url": f"https://blossom.example/"
                      f"{secrets.token_hex(32)}", "nonce": secrets.token_hex(12),
                      "mime_type": mime_type, "original_size": size, "filename": filename,
                      "encrypted_size": size + 16, "width": 800, "height": 600}
        return await self.say(json.dumps(descriptor))

    def legacy_envelope(self, text: str, *, created_at: int | None = None) -> Event:
        """The pre-2026-07 chat format: inner kind 1 → NIP-44 from an ephemeral key to
        pub(shared as secret) → kind 1059 with a randomised date. Serbero only reads it."""
        keys, now = self._keys(), created_at if created_at is not None else int(time.time())
        inner = (EventBuilder(Kind(1), text).custom_created_at(Timestamp.from_secs(now))
                 .finalize(self.keys))
        address = chat.legacy_address(keys)
        ephemeral = Keys.generate()
        ciphertext = nip44_encrypt(ephemeral.secret_key(), PublicKey.parse(address),
                                   inner.as_json(), Nip44Version.V2)
        return (EventBuilder(Kind(1059), ciphertext).tags([Tag.parse(["p", address])])
                .custom_created_at(Timestamp.from_secs(now - secrets.randbelow(86400)))
                .finalize(ephemeral))
