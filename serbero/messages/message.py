"""One message to solvers about one dispute, and its subjects.

In the Mostro v2 form its first line is `Dispute <id> · <subject>`, which Mostrix files in its
Serbero pane (a subject starting with `handed off` or `mediation could not start` raises the
take-over banner) and mostro-watchdog relays to Telegram; the lines below are the original's,
so anything that parsed them still finds them. `original` is the original's text, byte for
byte, for the `nip17-original` form. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Between `Dispute <id>` and the subject: space, U+00B7 MIDDLE DOT, space.
SEPARATOR = " \u00b7 "

NEW = "new"
TAKEN = "taken"
MEDIATING = "mediating"
MEDIATION_FAILED = "mediation could not start"
#: A cooperative summary of a mediated dispute, for a solver to act on.
SUMMARY = "summary"
#: The fixed starts of subjects that carry a value, as webhooks filter them.
UNATTENDED, RESOLVED, HANDED_OFF, TRANSCRIPT = "unattended", "resolved", "handed off", "transcript"
FORWARDED, REPORT = "new messages since handoff", "mediation report"
ACKNOWLEDGED = "acknowledged by"
_VALUED = (UNATTENDED, RESOLVED, HANDED_OFF, TRANSCRIPT, MEDIATION_FAILED, FORWARDED, REPORT,
           ACKNOWLEDGED)


def unattended(minutes: int) -> str:
    return f"{UNATTENDED} ({minutes} min)"


def resolved(status: str) -> str:
    return f"{RESOLVED}: {status}"


def handed_off(trigger: str) -> str:
    return f"{HANDED_OFF}: {trigger}"


def transcript(messages: int) -> str:
    return f"{TRANSCRIPT} ({messages} messages, times UTC)"


def could_not_start(trigger: str) -> str:
    """Mostrix raises its take-over banner for this subject, showing the reason."""
    return f"{MEDIATION_FAILED}: {trigger}"


def acknowledged(solver: str) -> str:
    """Told to the other solvers once, when one acknowledged the dispute (issue 9)."""
    return f"{ACKNOWLEDGED} {solver}"


def forwarded(messages: int) -> str:
    return f"{FORWARDED} ({messages})"


def report(status: str) -> str:
    return f"{REPORT}: {status}"


def event_of(subject: str) -> str:
    """The fixed start of a subject (`unattended (5 min)` → `unattended`)."""
    for start in _VALUED:
        if subject.startswith(start):
            return start
    return subject


@dataclass(frozen=True)
class SolverMessage:
    """A message about `dispute_id`. `body` follows the first line in the Mostro v2 form;
    `notice_type` is the stored code of what it says (a notif_type)."""

    dispute_id: str
    subject: str
    body: str
    original: str
    notice_type: str
    lifecycle_state: str
    occurred_at: int

    @property
    def header(self) -> str:
        return f"Dispute {self.dispute_id}{SEPARATOR}{self.subject}"

    @property
    def text(self) -> str:
        """The Mostro v2 form's text."""
        return f"{self.header}\n{self.body}"

    @property
    def event(self) -> str:
        return event_of(self.subject)
