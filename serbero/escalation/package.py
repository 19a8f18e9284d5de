"""The handoff package (ESC-5) and the `escalation_handoff/v1` DM body (DISP-11): building,
serialising byte for byte, and parsing a stored payload (DISP-5). Pure functions, no I/O.

The bytes matter: solvers' tools and the original's consumers read the JSON line, so field
order, the omitted `session_id` and the compact, non-ASCII-preserving form are fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from serbero.messages import message as subjects
from serbero.messages.message import SolverMessage

DM_HEADER = "escalation_handoff/v1"
#: Shown instead of a session id for a dispute-scoped handoff (U+2014 EM DASH).
NO_SESSION = "<none — dispute-scoped handoff>"
#: i64 bounds: the original rejects an `assembled_at` that does not fit.
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
REQUIRED = ("dispute_id", "trigger", "evidence_refs", "prompt_bundle_id", "policy_hash",
            "rationale_refs", "assembled_at")


class PayloadError(ValueError):
    """Raised when a stored handoff payload is not a handoff package (DISP-5)."""


@dataclass(frozen=True)
class HandoffPackage:
    """What a human needs to pick a dispute up: references (ids and hashes), never raw text."""

    dispute_id: str
    trigger: str
    evidence_refs: tuple[str, ...]
    prompt_bundle_id: str
    policy_hash: str
    rationale_refs: tuple[str, ...]
    assembled_at: int
    session_id: str | None = None

    def to_json(self) -> str:
        """ESC-5: compact, field order as written, `session_id` omitted when absent."""
        doc: dict[str, Any] = {"dispute_id": self.dispute_id}
        if self.session_id is not None:
            doc["session_id"] = self.session_id
        doc.update(trigger=self.trigger, evidence_refs=list(self.evidence_refs),
                   prompt_bundle_id=self.prompt_bundle_id, policy_hash=self.policy_hash,
                   rationale_refs=list(self.rationale_refs), assembled_at=self.assembled_at)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ManualRequest:
    """Who escalated a dispute by hand (`serbero escalate`) and what they wrote: solvers read it
    in the DM, since no mediation system looked at the dispute (issue 10)."""

    operator: str
    note: str


def _human_lines(package: HandoffPackage, manual: ManualRequest | None) -> list[str]:
    d, t = package.dispute_id, package.trigger
    take = f"Please run TakeDispute for dispute {d} on your Mostro instance to review the full "
    if manual is None:
        return [f"Escalation required for dispute {d}. Trigger: {t}. This dispute was evaluated "
                "by Serbero's mediation assistance system and requires human judgment. "
                f"{take}context."]
    # The note on one line, quoted, so no line of it can pass for a header line.
    note = json.dumps(manual.note, ensure_ascii=False) if manual.note else "(none)"
    return [f"Escalation required for dispute {d}. Trigger: {t}. An operator escalated this "
            f"dispute by hand (`serbero escalate`, by {manual.operator}); no mediation system "
            f"evaluated it. {take}context.",
            f"Operator's note: {note}"]


def dm_body(package: HandoffPackage, manual: ManualRequest | None = None) -> str:
    """DISP-11, lines joined by `\\n`: a header, the human lines (the original's one, or for a
    manual escalation who asked and their note), then the package as JSON."""
    try:
        payload = package.to_json()
        payload.encode("utf-8")
    except (TypeError, ValueError):
        payload = json.dumps({"dispute_id": package.dispute_id, "serialization_error": True},
                             separators=(",", ":"), ensure_ascii=False)
    return "\n".join([
        DM_HEADER,
        f"Dispute: {package.dispute_id}",
        f"Session: {package.session_id if package.session_id is not None else NO_SESSION}",
        f"Trigger: {package.trigger}",
        "",
        *_human_lines(package, manual),
        "",
        "Handoff payload (JSON):",
        payload,
    ])


def solver_message(package: HandoffPackage, *, notice_type: str, lifecycle_state: str,
                   now: int, manual: ManualRequest | None = None) -> SolverMessage:
    """The handoff as a solver message: `handed off: <trigger>` (Mostrix raises its take-over
    banner for it) above the whole `escalation_handoff/v1` body, in both forms; a manual
    escalation's body says who asked and shows their note. A handoff with neither a session nor
    an operator behind it is mediation's before any session opened: `mediation could not start:
    <trigger>` (the same banner)."""
    body = dm_body(package, manual)
    before_session = package.session_id is None and manual is None
    subject = (subjects.could_not_start(package.trigger) if before_session
               else subjects.handed_off(package.trigger))
    return SolverMessage(dispute_id=package.dispute_id, subject=subject, body=body, original=body,
                         notice_type=notice_type, lifecycle_state=lifecycle_state,
                         occurred_at=now)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise PayloadError(f"duplicate field `{key}`")
        doc[key] = value
    return doc


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str):
        raise PayloadError(f"`{key}` must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"`{key}` contains a lone surrogate") from None
    return value


def _texts(doc: dict[str, Any], key: str) -> tuple[str, ...]:
    value = doc[key]
    if not isinstance(value, list):
        raise PayloadError(f"`{key}` must be a list of strings, not {type(value).__name__}")
    return tuple(_text({key: item}, key) for item in value)


def parse(payload_json: str) -> HandoffPackage:
    """A stored payload as a package; unknown keys are ignored, as the original does."""
    try:
        doc = json.loads(payload_json, object_pairs_hook=_no_duplicates)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PayloadError(f"expected a JSON object, not {type(doc).__name__}")
    missing = [key for key in REQUIRED if key not in doc]
    if missing:
        raise PayloadError(f"missing field `{missing[0]}`")
    at = doc["assembled_at"]
    if isinstance(at, bool) or not isinstance(at, int) or not I64_MIN <= at <= I64_MAX:
        raise PayloadError(f"`assembled_at` must be an integer of Unix seconds, not {at!r}")
    session = doc.get("session_id")
    return HandoffPackage(
        dispute_id=_text(doc, "dispute_id"), trigger=_text(doc, "trigger"),
        evidence_refs=_texts(doc, "evidence_refs"),
        prompt_bundle_id=_text(doc, "prompt_bundle_id"), policy_hash=_text(doc, "policy_hash"),
        rationale_refs=_texts(doc, "rationale_refs"), assembled_at=at,
        session_id=None if session is None else _text(doc, "session_id"))


def best_effort_dispute_id(payload_json: str) -> str:
    """The dispute a broken payload names, for the parse-failure record; "unknown" if none."""
    try:
        doc = json.loads(payload_json)
    except (json.JSONDecodeError, RecursionError):
        return "unknown"
    value = doc.get("dispute_id") if isinstance(doc, dict) else None
    try:
        return _text({"dispute_id": value}, "dispute_id") or "unknown"
    except PayloadError:
        return "unknown"
