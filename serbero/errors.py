"""The one exception tree of Serbero; library errors are translated into it at the edges."""


class SerberoError(Exception):
    """Base of every error Serbero raises on purpose."""


class ConfigError(SerberoError):
    """Raised when the configuration cannot be used; carries one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ProtocolError(SerberoError):
    """Raised when a Nostr or Mostro message does not have the shape the protocol requires."""


class EventRejected(ProtocolError):
    """Raised when an incoming event is refused; `reason` is a stable code for counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class DatabaseError(SerberoError):
    """Raised when the database cannot be used: unreachable, missing, not writable, or holding
    another program's schema; the message names the database (never its password) and the
    fix."""


class PublishError(SerberoError):
    """Raised when no relay accepted an event; `permanent` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(message)


class NotFound(SerberoError):
    """Raised when an operator names a dispute, handoff or row that does not exist."""


class ReasoningError(SerberoError):
    """Raised when a model provider gives no usable answer. `category` is a stable code
    (`unreachable`, `timeout`, `malformed_response`, `refused`) stored in audit rows; the message
    says what happened without any body text, and `detail` carries a scrubbed excerpt of the
    provider's answer (it may quote the prompt, so it is shown to operators, logged at debug)."""

    def __init__(self, category: str, message: str, *, detail: str = "",
                 http_status: int | None = None, attempts: int | None = None) -> None:
        self.category = category
        self.detail = detail
        self.http_status = http_status
        self.attempts = attempts  # HTTP attempts made, when the transport knows
        super().__init__(message)
