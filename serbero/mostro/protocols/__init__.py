"""Mostro protocol versions behind one registry: each version is a module of this package
(`v1.py`, `v2.py`, …) that defines `VERSION`, found by scanning the package. Adding a version
is one module and its test; nothing else names versions.

A version says how a content tuple travels: which event kind carries it, how it is wrapped
and opened, the tuple's shape, and how to subscribe to what the node sends back.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass

from nostr_sdk import Event, Filter, Keys

#: The names every version of the registry has today (stored in take requests and the config).
V1, V2 = "v1", "v2"
#: A transport event dated further ahead than this is refused (mostro-core's chat skew).
MAX_CLOCK_SKEW_S = 60


@dataclass(frozen=True)
class Opened:
    """A transport event addressed to us, decrypted.

    `sender` is who vouches for the message (the v2 author, the v1 seal signer); `author` is who
    a content-tuple signature must verify against (the v2 author, the v1 rumor author);
    `created_at` is the real send time (the v2 event, the v1 rumor)."""

    transport: str
    content: str
    sender: str
    author: str
    created_at: int
    event_id: str
    pow_bits: int


#: wrap(content, sender, recipient hex, *, now, pow_bits, expiration) → signed event
Wrap = Callable[..., Event]
#: open(verified event, our keys, now, expected sender or None) → Opened, or EventRejected
Open = Callable[[Event, Keys, int, "str | None"], Opened]
#: reply_filter(node hex, our hex, since) → what to subscribe to for the node's messages to us
ReplyFilter = Callable[[str, str, int], Filter]


@dataclass(frozen=True)
class ProtocolVersion:
    name: str
    #: The `version` stamped on messages sent over this transport.
    number: int
    #: The kind of the events that carry messages.
    kind: int
    #: What it is, for people (`serbero mostro info`).
    wire: str
    #: Elements of the content tuple: [message, trade signature] or
    #: [message, trade signature, identity proof].
    tuple_size: int
    #: Whether the author of a transport event is the sender (so the listener can check it).
    author_is_sender: bool
    wrap_event: Wrap
    open_event: Open
    reply_filter: ReplyFilter

    def wrap(self, content: str, *, sender: Keys, recipient: str, now: int, pow_bits: int = 0,
             expiration: int | None = None) -> Event:
        """A signed event carrying `content` from `sender` to `recipient`."""
        return self.wrap_event(content, sender, recipient, now=now, pow_bits=pow_bits,
                               expiration=expiration)


_versions: dict[str, ProtocolVersion] | None = None
_loading = threading.Lock()


def _registry() -> dict[str, ProtocolVersion]:
    """Every version, found once per process. Built aside and published whole: a worker's
    threads asking at once must never see it half filled (issue 8: a fresh worker process
    refused its first notices with "unknown transport 'v2'" while another thread was still
    loading v2)."""
    global _versions  # noqa: PLW0603
    found = _versions
    if found is None:
        with _loading:
            if _versions is None:
                loaded = {}
                for info in pkgutil.iter_modules(__path__):
                    if info.name.startswith("v") and info.name[1:].isdigit():
                        version = importlib.import_module(f"{__name__}.{info.name}").VERSION
                        loaded[version.name] = version
                _versions = loaded
            found = _versions
    return found


def get(name: str) -> ProtocolVersion:
    """The version called `name`; an unknown name is a programming error (KeyError)."""
    return _registry()[name]


def every() -> list[ProtocolVersion]:
    """Every version, oldest first."""
    return sorted(_registry().values(), key=lambda v: v.number)


def names() -> tuple[str, ...]:
    return tuple(v.name for v in every())


def by_kind(kind: int) -> ProtocolVersion | None:
    return next((v for v in every() if v.kind == kind), None)


def kinds() -> frozenset[int]:
    return frozenset(v.kind for v in every())


def latest() -> ProtocolVersion:
    return every()[-1]


def announced(protocol_version: int | None) -> ProtocolVersion:
    """The version a node's `protocol_version` announces; absent or unknown means the first
    one (nodes before protocol v2 announced nothing)."""
    return next((v for v in every() if v.number == protocol_version), every()[0])
