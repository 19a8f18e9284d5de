"""Solver notice texts, one module per kind, joined by `TEXTS`: notif_type → text builder.

Each builder is a pure function of the dispute row (and the moment), so the same text comes out
in a worker, in `serbero run` and in a test. The first three texts are the original's, byte for
byte (NOTIF-2, RENOT-3, ASSIGN-4).
"""

from collections.abc import Callable

from serbero.db.models import Dispute
from serbero.disputes.notices import assigned, new_dispute, renotify, resolved

INITIAL = "initial"
RENOTIFICATION = "re-notification"
ASSIGNMENT = "assignment"
RESOLUTION = "resolution"

TEXTS: dict[str, Callable[[Dispute, int], str]] = {
    INITIAL: new_dispute.text,
    RENOTIFICATION: renotify.text,
    ASSIGNMENT: assigned.text,
    RESOLUTION: resolved.text,
}
