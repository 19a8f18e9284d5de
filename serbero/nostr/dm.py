"""NIP-17 direct messages to solvers: a kind-14 rumor, sealed and gift-wrapped (kind 1059)."""

from __future__ import annotations

from nostr_sdk import Event, Keys, Tag, nip17_make_private_msg

from serbero.nostr.keys import public_key


def solver_dm(sender: Keys, recipient_hex: str, text: str, *,
              dispute_id: str | None = None) -> Event:
    """A signed gift wrap carrying `text`; the rumor names the dispute in a `d` tag, if given,
    so a solver's client can thread the messages of one dispute."""
    extra = [Tag.parse(["d", dispute_id])] if dispute_id else []
    return nip17_make_private_msg(sender, public_key(recipient_hex), text,
                                  rumor_extra_tags=extra)
