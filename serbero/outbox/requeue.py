"""Requeueing a row that gave up: an operator puts a failed notice back in play (the web view's
button). The row keeps its bytes, so a receiver that did get it after all sees one copy; its
give-up window starts again at `requeued_at`, and its purpose undoes what the failure
recorded. Never sends: the caller publishes the returned row after commit (or the outbox tick
does, the row being due at once).
"""

from __future__ import annotations

import logging

from serbero.db.connection import database
from serbero.db.models import Outbox, audit
from serbero.errors import NotFound, SerberoError
from serbero.followup import FollowUp, Publish
from serbero.outbox import purposes
from serbero.outbox.publish import FAILED, PENDING

log = logging.getLogger(__name__)


class RequeueRefused(SerberoError):
    """Raised when a row cannot be requeued (not failed, or of a purpose with its own retries);
    nothing has been written."""


def requeueable(row: Outbox) -> bool:
    """Whether an operator may put this row back in play."""
    return (row.status == FAILED and purposes.known(row.purpose)
            and purposes.get(row.purpose).on_requeued is not None)


def requeue(row_id: int, *, now: int, operator: str) -> FollowUp:
    """Move failed row `row_id` back to pending, due now; return it to publish after commit.
    Raises NotFound for an unknown row and RequeueRefused for a row that is not a failed notice
    (a second click, once the first one won, is refused: the row is pending again)."""
    with database.atomic():
        row = Outbox.get_or_none(Outbox.id == row_id)
        if row is None:
            raise NotFound(f"no outbox row {row_id}.")
        if not requeueable(row) and row.status == FAILED:
            raise RequeueRefused(f"outbox row {row_id} ({row.purpose}) has retries of its own "
                                 "and cannot be requeued by hand.")
        won = (Outbox.update(status=PENDING, next_attempt_at=now, requeued_at=now)
               .where((Outbox.id == row_id) & (Outbox.status == FAILED)).execute()) == 1
        if not won:
            raise RequeueRefused(f"outbox row {row_id} is {row.status}, not failed; there is "
                                 "nothing to requeue.")
        hook = purposes.get(row.purpose).on_requeued
        assert hook is not None  # requeueable() checked it
        hook(row, now)
        audit("notice_requeued", dispute_id=row.dispute_id, at=now, outbox_id=row_id,
              purpose=row.purpose, channel=row.channel, requested_by=operator,
              last_error=(row.last_error or "")[:300])
    log.info("outbox_requeued", extra={"outbox_id": row_id, "purpose": row.purpose,
                                       "operator": operator})
    return FollowUp(publish=(Publish(row_id, purposes.get(row.purpose).lane),))
