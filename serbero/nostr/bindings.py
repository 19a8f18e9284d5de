"""A faster byte copy for nostr-sdk's Python bindings, installed by Serbero's processes.

The uniffi-generated bindings copy every string and byte buffer handed to Rust one byte at a
time in a Python loop (`_UniffiRustBufferBuilder.write`), which was a fifth of a worker's
Python time in the benchmark: every event parsed, every gift wrap built (its NIP-44 callback
hands ciphertext back), every dispute event verified. This replaces that loop with one
`memmove` into the same buffer, after the same capacity reservation. It is applied only to the
nostr-sdk release it was checked against (pyproject pins it); any other release keeps its own.

Installed by the process entry points (`serbero`'s CLI, dramatiq worker processes), not on
import, so that a library user or a test client of Serbero runs nostr-sdk as shipped.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import logging

from nostr_sdk import nostr_sdk as _generated

log = logging.getLogger(__name__)

#: The bindings release whose generated buffer builder this replacement matches.
CHECKED_RELEASE = "0.45.1"


def _write(self, value: bytes | bytearray) -> None:
    size = len(value)
    with self._reserve(size):
        start = ctypes.cast(self.rbuf.data, ctypes.c_void_p).value + self.rbuf.len
        ctypes.memmove(start, bytes(value), size)


def apply() -> bool:
    """Install the faster copy if the installed bindings are the checked release; idempotent."""
    builder = getattr(_generated, "_UniffiRustBufferBuilder", None)
    release = importlib.metadata.version("nostr-sdk")
    if release != CHECKED_RELEASE or builder is None or not hasattr(builder, "_reserve"):
        log.debug("nostr_sdk_bindings_unpatched", extra={"release": release})
        return False
    builder.write = _write
    return True

