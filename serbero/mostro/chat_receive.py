"""Opening dispute-chat envelopes: the thirteen checks of the chat protocol, in its order
(cheapest first), each refusal an EventRejected with a stable reason; and read-only support for
the legacy kind-1059 chat (2026-02 → 2026-07), which Serbero reads but never sends.

Pure apart from `ChatGuard`, the per-process memory of checks 5 and 6; the durable inner-id
dedup (check 12) is the caller's predicate, backed by the database in `chat_store`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from nostr_sdk import Event, NostrSdkError, PublicKey, SecretKey, nip44_decrypt

from serbero.errors import EventRejected
from serbero.mostro.attachments import Attachment, recognise
from serbero.mostro.chat import CHAT_KIND, INNER_KIND, ChatKeys, legacy_address

#: Protocol constants (mostro-core chat/unwrap.rs): clock skew and the content size limit.
MAX_CLOCK_SKEW_S = 60
MAX_CONTENT_BYTES = 65_536
#: Legacy envelopes carry a bigger ciphertext (a whole signed event, base64): allow for it.
MAX_LEGACY_CONTENT_CHARS = 87_500
#: Raw events beyond this are not even parsed.
MAX_RAW_CHARS = 300_000
#: Outer ids remembered per process; token bucket per conversation (burst, then per second).
SEEN_CAPACITY = 20_000
RATE_BURST = 30
RATE_PER_S = 1.0
LEGACY_KIND = 1059


@dataclass(frozen=True)
class ChatMessage:
    """An accepted chat message. Order a transcript by `inner_created_at`."""

    conversation: str
    content: str
    sender: str
    inner_created_at: int
    inner_id: str
    outer_id: str
    outer_created_at: int
    attachment: Attachment | None = None
    legacy: bool = False


class ChatGuard:
    """Checks 5 and 6: outer ids already handled (bounded), and a per-conversation budget."""

    def __init__(self, *, capacity: int = SEEN_CAPACITY, burst: int = RATE_BURST,
                 per_s: float = RATE_PER_S) -> None:
        self.capacity, self.burst, self.per_s = capacity, burst, per_s
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._budget: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()  # one guard may serve every thread of a worker

    def seen(self, outer_id: str) -> bool:
        with self._lock:
            return outer_id in self._seen

    def remember(self, outer_id: str) -> None:
        with self._lock:
            self._seen[outer_id] = None
            self._seen.move_to_end(outer_id)
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)

    def allow(self, conversation: str, now: int) -> bool:
        with self._lock:
            tokens, last = self._budget.get(conversation, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0, now - last) * self.per_s)
            if tokens < 1:
                self._budget[conversation] = (tokens, now)
                return False
            self._budget[conversation] = (tokens - 1, now)
            return True


def _load(raw: str) -> Event:
    if not isinstance(raw, str):
        raise EventRejected("malformed_event", "not text")
    if len(raw) > MAX_RAW_CHARS:
        raise EventRejected("oversized_event", f"{len(raw)} characters")
    try:
        return Event.from_json(raw)
    except (NostrSdkError, ValueError, TypeError, OverflowError) as exc:
        raise EventRejected("malformed_event", str(exc)[:120]) from None


def _single_p(event: Event, address: str) -> None:
    p_tags = [t.to_vec() for t in event.tags() if t.kind() == "p"]
    if len(p_tags) > 1:
        raise EventRejected("multiple_p_tags", str(len(p_tags)))
    if not p_tags or len(p_tags[0]) < 2 or p_tags[0][1] != address:
        raise EventRejected("wrong_p_tag", "the p tag is not the conversation address")


def _inner(plaintext: str, allowed_signers: Collection[str]) -> Event:
    """Checks 9-11: the inner event verifies, is signed by an allowed key, and is kind 1."""
    try:
        inner = Event.from_json(plaintext)
    except (NostrSdkError, ValueError, TypeError, OverflowError):
        # no detail: the parser's message can quote the party's decrypted text
        raise EventRejected("malformed_inner", "not a signed event") from None
    if not inner.verify():
        raise EventRejected("bad_inner_signature", inner.id().to_hex())
    signer = inner.author().to_hex()
    if signer not in allowed_signers:
        raise EventRejected("unexpected_signer", signer)
    if inner.kind().as_u16() != INNER_KIND:
        raise EventRejected("wrong_inner_kind", str(inner.kind().as_u16()))
    return inner


def open_chat_event(raw: str, keys: ChatKeys, *, allowed_signers: Collection[str], now: int,
                    guard: ChatGuard, is_new_inner: Callable[[str], bool]) -> ChatMessage:
    """Apply checks 1-13 to a kind-14 envelope of conversation `keys`; return the message."""
    event = _load(raw)
    if event.author().to_hex() != keys.sign_pubkey:                               # 1
        raise EventRejected("wrong_author", event.author().to_hex())
    if event.kind().as_u16() != CHAT_KIND:
        raise EventRejected("wrong_kind", str(event.kind().as_u16()))
    _single_p(event, keys.conv_pubkey)                                             # 2
    outer_at = event.created_at().as_secs()
    if outer_at > now + MAX_CLOCK_SKEW_S:                                          # 3
        raise EventRejected("clock_skew", f"{outer_at - now}s ahead")
    if len(event.content().encode("utf-8")) > MAX_CONTENT_BYTES:                   # 4
        raise EventRejected("content_too_large", str(len(event.content())))
    outer_id = event.id().to_hex()
    if guard.seen(outer_id):                                                       # 5
        raise EventRejected("duplicate_outer", outer_id)
    if not guard.allow(keys.conversation, now):                                    # 6
        raise EventRejected("rate_limited", keys.conversation)
    if not event.verify():                                                         # 7
        raise EventRejected("bad_signature", outer_id)
    guard.remember(outer_id)
    try:                                                                           # 8
        plaintext = nip44_decrypt(keys.conv_keys().secret_key(),
                                  PublicKey.parse(keys.conv_pubkey), event.content())
    except NostrSdkError as exc:
        raise EventRejected("decrypt_failed", str(exc)[:80]) from None
    inner = _inner(plaintext, allowed_signers)                                     # 9-11
    inner_id = inner.id().to_hex()
    if not is_new_inner(inner_id):                                                 # 12
        raise EventRejected("duplicate_inner", inner_id)
    inner_at = inner.created_at().as_secs()
    if abs(inner_at - outer_at) > MAX_CLOCK_SKEW_S:                                # 13
        raise EventRejected("inner_time_mismatch", f"{inner_at - outer_at}s")
    return ChatMessage(keys.conversation, inner.content(), inner.author().to_hex(), inner_at,
                       inner_id, outer_id, outer_at, recognise(inner.content()))


def open_legacy_event(raw: str, keys: ChatKeys, *, allowed_signers: Collection[str], now: int,
                      guard: ChatGuard, is_new_inner: Callable[[str], bool]) -> ChatMessage:
    """Read a legacy envelope: kind 1059 from an ephemeral key to pub(shared as secret),
    NIP-44 with the shared secret itself. The outer date is randomised, so only the inner one
    counts, and it may not lie in the future."""
    event = _load(raw)
    if event.kind().as_u16() != LEGACY_KIND:
        raise EventRejected("wrong_kind", str(event.kind().as_u16()))
    address = legacy_address(keys)
    _single_p(event, address)
    if event.created_at().as_secs() > now + MAX_CLOCK_SKEW_S:
        raise EventRejected("clock_skew", "outer event in the future")
    if len(event.content()) > MAX_LEGACY_CONTENT_CHARS:
        raise EventRejected("content_too_large", str(len(event.content())))
    outer_id = event.id().to_hex()
    if guard.seen(outer_id):
        raise EventRejected("duplicate_outer", outer_id)
    if not guard.allow(address, now):
        raise EventRejected("rate_limited", address)
    if not event.verify():
        raise EventRejected("bad_signature", outer_id)
    guard.remember(outer_id)
    try:
        plaintext = nip44_decrypt(SecretKey.parse(keys.shared_x), event.author(), event.content())
    except NostrSdkError as exc:
        raise EventRejected("decrypt_failed", str(exc)[:80]) from None
    inner = _inner(plaintext, allowed_signers)
    inner_id = inner.id().to_hex()
    if not is_new_inner(inner_id):
        raise EventRejected("duplicate_inner", inner_id)
    inner_at = inner.created_at().as_secs()
    if inner_at > now + MAX_CLOCK_SKEW_S:
        raise EventRejected("clock_skew", "inner event in the future")
    return ChatMessage(keys.conversation, inner.content(), inner.author().to_hex(), inner_at,
                       inner_id, outer_id, event.created_at().as_secs(),
                       recognise(inner.content()), legacy=True)
