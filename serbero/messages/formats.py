"""The forms a solver message travels in, one builder per form, joined by `FORMATS`:

* `mostro-v2` — a Mostro protocol v2 `send-dm`: kind 14 from Serbero's key, NIP-44 to the
  recipient, content `[message, null, null]`, `id` = the dispute. What Mostrix shows in its
  Serbero pane, linked to the dispute, for senders in its `trusted_dm_senders`.
* `nip17-original` — the original's text, byte for byte, as a NIP-17 gift wrap (a general
  Nostr client shows it; raw kind-14 messages it does not).

Observers always get the Mostro v2 form with the first line only.
"""

from __future__ import annotations

from collections.abc import Callable

from nostr_sdk import Event, Keys

from serbero.config import MOSTRO_V2, NIP17_ORIGINAL
from serbero.messages.message import SolverMessage
from serbero.mostro import protocols, signing
from serbero.mostro.messages import send_dm
from serbero.nostr.dm import solver_dm

Builder = Callable[[SolverMessage, Keys, str, int], Event]


def mostro_v2_event(text: str, *, dispute_id: str, signer: Keys, recipient: str,
                    now: int) -> Event:
    """A signed v2 `send-dm` carrying `text` to `recipient` (hex)."""
    content = signing.encode(send_dm(text, dispute_id=dispute_id), transport=protocols.V2)
    return protocols.get(protocols.V2).wrap(content, sender=signer, recipient=recipient, now=now)


def _mostro_v2(message: SolverMessage, signer: Keys, recipient: str, now: int) -> Event:
    return mostro_v2_event(message.text, dispute_id=message.dispute_id, signer=signer,
                           recipient=recipient, now=now)


def _nip17_original(message: SolverMessage, signer: Keys, recipient: str, now: int) -> Event:
    return solver_dm(signer, recipient, message.original, dispute_id=message.dispute_id)


FORMATS: dict[str, Builder] = {
    MOSTRO_V2: _mostro_v2,
    NIP17_ORIGINAL: _nip17_original,
}


def build(message: SolverMessage, form: str, *, signer: Keys, recipient: str,
          now: int) -> Event:
    """`message` to `recipient` (hex) in `form` (a name of `FORMATS`), signed."""
    return FORMATS[form](message, signer, recipient, now)


def first_line(message: SolverMessage, *, signer: Keys, recipient: str, now: int) -> Event:
    """An observer's copy: the first line only, in the Mostro v2 form."""
    return mostro_v2_event(message.header, dispute_id=message.dispute_id, signer=signer,
                           recipient=recipient, now=now)
