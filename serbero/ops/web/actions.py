"""The two things the web view's forms do, as the composition root gives them: it knows the
broker, this package does not. Each returns a code from DONE, which the page turns into its
fixed sentence (no text travels in the redirect)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: What an action did → the sentence the page shows.
DONE = {
    "escalated": "Escalated: a handoff was prepared and is on its way to the solvers.",
    "already_escalated": "Already escalated by hand: nothing new was written or sent.",
    "requeued": "Requeued: the notice is due again and will be sent at once.",
}


@dataclass(frozen=True)
class Actions:
    """`escalate(dispute_id, operator, note)` and `requeue(outbox_id, operator)`; each raises
    a SerberoError (NotFound, EscalationRefused, RequeueRefused) when it cannot act."""

    escalate: Callable[[str, str, str | None], str]
    requeue: Callable[[int, str], str]
