"""Take requests nobody answered: the timeout sweep, and the report of a possible silent take.

mostrod marks a dispute taken before it has prepared the solver's reply and never rolls back
(Mostro issue 812), so a request can time out although the dispute is now assigned to Serbero.
When a dispute whose take timed out shows an `in-progress` revision newer than the request that
no other solver explains, it is reported (audit row + warning) as a possible silent take; a
late `admin-took-dispute` still records the take (`take_replies`).
"""

from __future__ import annotations

import logging

from serbero.db.connection import database
from serbero.db.models import Dispute, audit
from serbero.mostro.models import TakeRequest
from serbero.mostro.take import PENDING, POSSIBLE_SILENT_TAKE, TIMED_OUT, UNSENT

log = logging.getLogger(__name__)

#: Requests timed out per sweep.
SWEEP_BATCH = 500
#: Revisions stamped up to this long before the request still count as "after" it (clock skew
#: between Serbero and the node).
REVISION_SKEW_S = 5
#: Silent takes are looked for this long after the request; later revisions are other news.
SILENT_TAKE_WINDOW_S = 86400


def expire_due(now: int, *, limit: int = SWEEP_BATCH) -> list[str]:
    """Time out pending requests past their deadline; return their dispute ids."""
    due = list(TakeRequest.select().where((TakeRequest.status == PENDING)
                                          & (TakeRequest.deadline_at <= now))
               .order_by(TakeRequest.deadline_at).limit(limit))
    expired = []
    for request in due:
        with database.atomic():
            won = (TakeRequest.update(status=TIMED_OUT, resolved_at=now, reason="no_reply")
                   .where((TakeRequest.id == request.id) & (TakeRequest.status == PENDING))
                   .execute()) == 1
            if won:
                audit("take_timed_out", dispute_id=request.dispute_id, at=now,
                      request_id=request.request_id, waited_s=now - request.created_at)
        if won:
            log.warning("take_timed_out", extra={"dispute_id": request.dispute_id,
                                                 "request_id": request.request_id})
            expired.append(request.dispute_id)
    return expired


def note_revision(dispute_id: str, *, status: str, revision_at: int, solver: str | None,
                  serbero_pubkey: str, now: int) -> bool:
    """Look at one dispute revision: an `in-progress` newer than a take of ours that got no
    reply, naming no other solver, is reported as a possible silent take. True if reported."""
    if status != "in-progress" or (solver is not None and solver != serbero_pubkey):
        return False
    candidates = (TakeRequest.select()
                  .where((TakeRequest.dispute_id == dispute_id)
                         & TakeRequest.status.in_((TIMED_OUT, UNSENT))
                         & (TakeRequest.created_at - REVISION_SKEW_S <= revision_at)
                         & (TakeRequest.created_at + SILENT_TAKE_WINDOW_S >= revision_at))
                  .order_by(TakeRequest.id.desc()))
    request = candidates.first()
    if request is None:
        return False
    with database.atomic():
        won = (TakeRequest.update(status=POSSIBLE_SILENT_TAKE)
               .where((TakeRequest.id == request.id)
                      & TakeRequest.status.in_((TIMED_OUT, UNSENT))).execute()) == 1
        if won:
            audit("possible_silent_take", dispute_id=dispute_id, at=now,
                  request_id=request.request_id, revision_at=revision_at,
                  named_us=solver is not None)
    if won:
        log.warning("possible_silent_take: Mostro shows the dispute taken after a take that got "
                    "no reply (Mostro issue 812)", extra={"dispute_id": dispute_id,
                                                          "request_id": request.request_id})
    return won


def scan_silent_takes(serbero_pubkey: str, now: int, *, limit: int = SWEEP_BATCH) -> list[str]:
    """Check the stored dispute revision of every unanswered take; return the reported ids."""
    rows = (TakeRequest.select(TakeRequest.dispute_id, Dispute.dispute_status,
                               Dispute.status_event_at, Dispute.assigned_solver)
            .join(Dispute, on=(TakeRequest.dispute_id == Dispute.dispute_id))
            .where(TakeRequest.status.in_((TIMED_OUT, UNSENT))
                   & (Dispute.dispute_status == "in-progress")
                   & (TakeRequest.created_at >= now - SILENT_TAKE_WINDOW_S))
            .limit(limit).tuples())
    return [dispute_id for dispute_id, status, revision_at, solver in rows
            if note_revision(dispute_id, status=status, revision_at=revision_at, solver=solver,
                             serbero_pubkey=serbero_pubkey, now=now)]
