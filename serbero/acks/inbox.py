"""What solvers send Serbero: a v2 `send-dm` (kind 14 from the solver's own key) or a NIP-17
DM (a gift wrap whose seal a solver signed), opened, parsed and applied as an acknowledgement.

Only configured solvers are heard; anything else in a reply is ignored with a reason (logged,
counted, never the text above DEBUG) and is never read as a command. Which dispute `ack`
means: `ack <prefix>` the one dispute told to this solver whose id starts so; plain `ack` the
dispute the replied-to message names (a `send-dm`'s `id`, a NIP-17 rumor's `d` tag), else the
one open dispute this solver was told about and has not acknowledged; several such disputes
make it ambiguous, and it is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nostr_sdk import Event, Keys, NostrSdkError, UnwrappedGift

from serbero import rejections
from serbero.acks import record, reply
from serbero.acks.models import DISPUTE, HANDOFF, REPLY, SolverAcknowledgement
from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, Outbox, ProcessedInput
from serbero.disputes import lifecycle
from serbero.disputes.events import load_verified_event
from serbero.errors import EventRejected
from serbero.followup import FollowUp
from serbero.mostro import payloads, protocols, signing, transport
from serbero.mostro.messages import UUID_RE
from serbero.nostr.keys import short

log = logging.getLogger(__name__)

INPUT_KIND = "solver_reply"
SEND_DM_KIND, GIFT_WRAP_KIND, CHAT_RUMOR_KIND = 14, 1059, 14
#: A reply written longer ago than this is not read as an acknowledgement of anything now.
MAX_REPLY_AGE_S = 3600
#: Nor one dated ahead by more than a sender's clock may be.
MAX_CLOCK_SKEW_S = protocols.MAX_CLOCK_SKEW_S
#: States in which plain `ack` can mean a dispute.
OPEN_STATES = (lifecycle.NEW, lifecycle.NOTIFIED, lifecycle.ESCALATED)


@dataclass(frozen=True)
class SolverReply:
    solver: str
    text: str
    #: The dispute the replied-to message names, if the reply says.
    linked: str | None
    event_id: str
    #: When the solver wrote it (the v2 event's time, the NIP-17 rumor's).
    written_at: int


@dataclass(frozen=True, kw_only=True)
class Handled(FollowUp):
    outcome: str
    dispute_id: str | None = None


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _AlreadyApplied(Exception):
    """Raised inside the transaction to roll back a reply applied before."""


def solver_keys(settings: Settings) -> frozenset[str]:
    return frozenset(s.hex_pubkey for s in settings.solvers if s.hex_pubkey)


def ingest(raw: str, *, settings: Settings, signer: Keys, now: int) -> Handled:
    """The `ingest_solver_reply` job: a kind-14 event from a solver's key."""
    try:
        event = load_verified_event(raw, max_bytes=transport.MAX_EVENT_CHARS)
        kind = event.kind().as_u16()
        if kind == SEND_DM_KIND:
            opened = _send_dm(raw, event, settings=settings, keys=signer, now=now)
        elif kind == GIFT_WRAP_KIND:
            opened = _gift_wrap(event, settings=settings, keys=signer)
            if opened is None:
                raise EventRejected("not_a_solver", "gift wrap not sealed by a solver")
        else:
            raise EventRejected("wrong_kind", str(kind))
    except EventRejected as rejected:
        return _rejected(settings, rejected.reason, rejected.detail)
    return apply(opened, settings=settings, signer=signer, now=now)


def claim_gift_wrap(raw: str, *, settings: Settings, signer: Keys, now: int) -> Handled | None:
    """On the Mostro layer's path (gift wraps to Serbero arrive there, since only `#p` selects
    them): a wrap a configured solver sealed is a reply, handled here; anything else is None
    and left to the Mostro layer. (A v1 node reply is unwrapped twice: v1 is deprecated.)"""
    if not solver_keys(settings):
        return None
    try:
        event = load_verified_event(raw, max_bytes=transport.MAX_EVENT_CHARS)
        if event.kind().as_u16() != GIFT_WRAP_KIND:
            return None
        opened = _gift_wrap(event, settings=settings, keys=signer)
    except EventRejected as rejected:
        if rejected.reason in ("malformed_json", "oversized", "bad_signature"):
            return None  # the Mostro layer refuses it with its own reason
        return _rejected(settings, rejected.reason, rejected.detail)
    return None if opened is None else apply(opened, settings=settings, signer=signer, now=now)


def _send_dm(raw: str, event: Event, *, settings: Settings, keys: Keys,
             now: int) -> SolverReply:
    author = event.author().to_hex()
    if author not in solver_keys(settings):
        raise EventRejected("not_a_solver", short(author))
    opened = transport.open_event(raw, keys=keys, now=now)
    message = signing.decode(opened.content, transport=protocols.V2, author=opened.author).message
    if message.action != "send-dm":
        raise EventRejected("not_a_text_message", message.action[:32])
    return SolverReply(author, payloads.text_message(message.payload), message.id, opened.event_id,
                       opened.created_at)


def _gift_wrap(event: Event, *, settings: Settings, keys: Keys) -> SolverReply | None:
    try:
        gift = UnwrappedGift.from_gift_wrap(keys, event)
    except NostrSdkError:
        return None
    sender = gift.sender().to_hex()
    if sender not in solver_keys(settings):
        return None
    rumor = gift.rumor()
    if rumor.author().to_hex() != sender:
        raise EventRejected("forged_rumor", short(sender))
    if rumor.kind().as_u16() != CHAT_RUMOR_KIND:
        raise EventRejected("not_a_chat_message", str(rumor.kind().as_u16()))
    linked = next((tag[1] for tag in (t.to_vec() for t in rumor.tags())
                   if len(tag) > 1 and tag[0] == "d"), None)
    return SolverReply(sender, rumor.content(), linked, event.id().to_hex(),
                       rumor.created_at().as_secs())


def _rejected(settings: Settings, reason: str, detail: str = "") -> Handled:
    rejections.count(settings, f"solver_reply_{reason}")
    log.warning("solver_reply_rejected", extra={"reason": reason, "detail": detail[:120]})
    return Handled(outcome=f"rejected:{reason}")


def apply(opened: SolverReply, *, settings: Settings, signer: Keys, now: int) -> Handled:
    """Apply one opened reply once (the inbox keys it by event id)."""
    if not now - MAX_REPLY_AGE_S <= opened.written_at <= now + MAX_CLOCK_SKEW_S:
        # read back long after it was written (a restart replaying a gift wrap): not an ack now
        return _rejected(settings, "stale_reply", str(now - opened.written_at))
    parsed = reply.parse(opened.text)
    log.debug("solver_reply_text", extra={"solver": short(opened.solver),
                                          "text": opened.text[:200]})
    try:
        with database.atomic():
            handled = _apply(parsed, opened, settings=settings, signer=signer, now=now)
            if not (ProcessedInput.insert(key=opened.event_id, kind=INPUT_KIND,
                                          outcome=handled.outcome[:64], processed_at=now)
                    .on_conflict_ignore().as_rowcount().execute()):
                raise _AlreadyApplied
    except _AlreadyApplied:
        return Handled(outcome="duplicate")
    if handled.outcome.startswith("ignored:"):
        reason = handled.outcome.removeprefix("ignored:")
        rejections.count(settings, f"solver_reply_{reason}")
        log.warning("solver_reply_ignored", extra={"reason": reason,
                                                   "solver": short(opened.solver),
                                                   "dispute_id": handled.dispute_id})
    return handled


def _apply(parsed: reply.Ack | reply.NotAck, opened: SolverReply, *, settings: Settings,
           signer: Keys, now: int) -> Handled:
    if isinstance(parsed, reply.NotAck):
        return Handled(outcome=f"ignored:{parsed.reason}")
    try:
        dispute_id, scope = _target(parsed, opened)
    except _Refused as refused:
        return Handled(outcome=f"ignored:{refused.reason}")
    recorded = record.acknowledge(dispute_id, opened.solver, scope=scope, source=REPLY,
                                  settings=settings, signer=signer, now=now)
    return Handled(outcome=recorded.outcome, dispute_id=dispute_id, **recorded.parts())


def _target(parsed: reply.Ack, opened: SolverReply) -> tuple[str, str]:
    """The dispute and scope the reply acknowledges, or _Refused with the reason."""
    solver = opened.solver
    if parsed.prefix is not None:
        matches = [d for (d,) in Dispute.select(Dispute.dispute_id)
                   .where(Dispute.dispute_id.startswith(parsed.prefix)).limit(50).tuples()
                   if record.told(d, solver)]
    elif opened.linked is not None and UUID_RE.fullmatch(opened.linked):
        matches = [opened.linked.lower()]
    else:
        acked = SolverAcknowledgement.select(SolverAcknowledgement.dispute_id).where(
            SolverAcknowledgement.solver_pubkey == solver)
        matches = [d for (d,) in Dispute.select(Dispute.dispute_id).distinct()
                   .join(Outbox, on=(Outbox.dispute == Dispute.dispute_id))
                   .where((Outbox.recipient == solver) & Outbox.purpose.in_(record.SOLVER_PURPOSES)
                          & Outbox.status.in_(record.TOLD_STATUSES)
                          & Dispute.lifecycle_state.in_(OPEN_STATES)
                          & Dispute.dispute_id.not_in(acked)).limit(2).tuples()]
        if not matches:
            raise _Refused("no_open_dispute")
    if len(matches) > 1:
        raise _Refused("ambiguous")
    if not matches:
        raise _Refused("not_told")
    dispute_id = matches[0]
    purposes = record.told(dispute_id, solver)
    if not purposes:
        raise _Refused("not_told")  # a forged ack for a dispute this solver never heard of
    state = Dispute.select(Dispute.lifecycle_state).where(
        Dispute.dispute_id == dispute_id).scalar()
    if state == lifecycle.RESOLVED:
        raise _Refused("dispute_closed")
    if state in (lifecycle.NEW, lifecycle.NOTIFIED):
        return dispute_id, DISPUTE
    if purposes & {"handoff_dm", "mediation_dm"}:
        return dispute_id, HANDOFF
    if state == lifecycle.ESCALATED:
        return dispute_id, DISPUTE  # escalated by hand and still untaken
    raise _Refused("already_taken")
