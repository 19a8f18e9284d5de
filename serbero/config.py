"""Configuration: the TOML file plus SERBERO_* environment variables, turned into one frozen
`Settings` object with every problem reported at once.

This is the only module that reads the environment or the configuration file. The file format
is the Rust Serbero's `config.toml` (sections `[serbero]`, `[mostro]`, `[[relays]]`,
`[[solvers]]`, `[timeouts]`, `[mediation]`, `[reasoning]`, `[prompts]`, `[chat]`,
`[escalation]`), so an operator's existing file works unchanged; unlike the original, an unknown
section or key is an error, because a typo that silently keeps a default hides real problems.
Serbero's own additions: `[notifications]`, `[[observers]]`, `[[webhooks]]`.

`Settings` is the only way code reads configuration. Commands that need no configuration file
(the dashboard) read `ServiceSettings`, the part of it that comes from the environment alone.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nostr_sdk import NostrSdkError, RelayUrl

from serbero import logs
from serbero.errors import ConfigError
from serbero.nostr.keys import parse_public_key, parse_secret_key
from serbero.reasoning.limits import (
    DECLARED_PROVIDERS,
    MEDIATION_JOB_LIMIT_S,
    SHIPPED_PROVIDERS,
    chain_budget_s,
    unknown_provider_message,
)
from serbero.tiers import config as tiers_config
from serbero.tiers.config import TierEntry

#: Where the configuration is read from when SERBERO_CONFIG is not set.
DEFAULT_CONFIG_PATH = "config.toml"
#: Redis key prefix (and dramatiq namespace) when SERBERO_REDIS_NAMESPACE is not set.
DEFAULT_REDIS_NAMESPACE = "serbero"
#: Prints a starting configuration with every key documented, in any installation.
SAMPLE_COMMAND = "serbero config sample"
#: SERBERO_LOG_FORMAT values: one logfmt line per record (default) or one JSON object.
LOG_FORMATS = ("logfmt", "json")


class Secret:
    """A string that never shows itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _positive(value: int | float) -> str | None:
    return None if value > 0 else f"must be a positive number (got {value})"


def _not_negative(value: int) -> str | None:
    return None if value >= 0 else f"must not be negative (got {value})"


def _at_least_one(value: float) -> str | None:
    return None if value >= 1 else f"must be at least 1.0 (got {value})"


def _check(fn: Callable[[Any], str | None]) -> dict[str, Any]:
    """Field metadata naming the validator `_build` runs on the value."""
    return {"check": fn}


def _entries(cls: type) -> dict[str, Any]:
    """Field metadata: the key holds an array of tables, each built as `cls`."""
    return {"entries": cls}


@dataclass(frozen=True)
class SerberoSection:
    private_key: str = ""
    db_path: str = "serbero.db"
    log_level: str = "info"


def _transport_choice(value: str) -> str | None:
    from serbero.mostro import protocols  # the registry, not the rest of the Mostro layer

    versions = protocols.every()
    if value == "auto" or value in (v.name for v in versions):
        return None
    *others, last = ['"auto"', *(f'"{v.name}" ({v.wire})' for v in versions)]
    return f'must be {", ".join(others)} or {last}, not "{value}"'


def _pow_bits(value: int) -> str | None:
    return None if -1 <= value <= 32 else f"must be -1 (as announced) or 0..32 bits (got {value})"


def _pow_cap(value: int) -> str | None:
    return None if 0 <= value <= 32 else f"must be 0..32 bits (got {value})"


@dataclass(frozen=True)
class MostroSection:
    pubkey: str = ""
    #: Transport of requests to the node; "auto" follows its info event (`protocol_version`).
    transport: str = field(default="auto", metadata=_check(_transport_choice))
    #: Proof of work of take requests, in bits; -1 mines what the node announces.
    pow_bits: int = field(default=-1, metadata=_check(_pow_bits))
    #: Takes are refused on a node demanding more work than this: 20 bits is ~1 s of mining,
    #: and a request must reach the node within 10 s of being stamped.
    max_pow_bits: int = field(default=20, metadata=_check(_pow_cap))
    #: Seconds a take request waits for `admin-took-dispute` or `cant-do`.
    take_timeout_seconds: int = field(default=30, metadata=_check(_positive))


@dataclass(frozen=True)
class RelayEntry:
    url: str = ""


@dataclass(frozen=True)
class SolverEntry:
    """A configured solver. `pubkey` is kept verbatim: an unparseable one is reported loudly at
    start-up and every notification to it is recorded as failed, as in the original."""

    pubkey: str = ""
    permission: str = "read"
    #: The form of this solver's messages; empty: `[notifications].format`.
    format: str = ""
    #: `{tz, from, to}`: a daily window in which tiers skip this solver (serbero.tiers.quiet).
    quiet_hours: dict = field(default_factory=dict, hash=False)

    @property
    def hex_pubkey(self) -> str | None:
        """The pubkey as hex, or None when it does not parse."""
        return _hex_or_none(self.pubkey)


def _hex_or_none(pubkey: str) -> str | None:
    try:
        return parse_public_key(pubkey)
    except ValueError:
        return None


@dataclass(frozen=True)
class ObserverEntry:
    """A key that receives the first line of every solver message (mostro-watchdog's), never
    the lines below it. A pubkey that does not parse is reported and its notices fail."""

    pubkey: str = ""

    @property
    def hex_pubkey(self) -> str | None:
        return _hex_or_none(self.pubkey)


#: The forms a solver message can take (serbero.messages.formats builds each).
MOSTRO_V2, NIP17_ORIGINAL = "mostro-v2", "nip17-original"
NOTICE_FORMATS = (MOSTRO_V2, NIP17_ORIGINAL)
#: What a webhook may subscribe to: the fixed start of each solver-message subject. Transcripts
#: carry party words, so they never leave by webhook.
WEBHOOK_EVENTS = ("new", "unattended", "taken", "resolved", "handed off", "mediating",
                  "mediation could not start")
#: The longest a webhook may take to answer: the webhook job's own time limit is 60 s.
MAX_WEBHOOK_TIMEOUT_S = 30


def _notice_format(value: str) -> str | None:
    if value in NOTICE_FORMATS:
        return None
    return f'must be "{MOSTRO_V2}" or "{NIP17_ORIGINAL}", not "{value}"'


@dataclass(frozen=True)
class NotificationsSection:
    #: mostro-v2: protocol-v2 `send-dm` (kind 14) that Mostro clients show in their Serbero
    #: pane; nip17-original: the original's texts, byte for byte, as NIP-17 gift wraps.
    format: str = field(default=MOSTRO_V2, metadata=_check(_notice_format))
    #: How often the solver who acknowledged a dispute is reminded until it is taken.
    ack_reminder_seconds: int = field(default=1800, metadata=_check(_positive))
    #: The escalation chain; empty: every solver hears at once, as the original does.
    tiers: tuple[TierEntry, ...] = field(default=(), metadata=_entries(TierEntry))


def _webhook_timeout(value: float) -> str | None:
    if 0 < value <= MAX_WEBHOOK_TIMEOUT_S:
        return None
    return f"must be more than 0 and at most {MAX_WEBHOOK_TIMEOUT_S} seconds (got {value})"


@dataclass(frozen=True)
class WebhookEntry:
    """An HTTP endpoint that receives each notice as JSON. `secret_env` names the environment
    variable (or `<NAME>_FILE`) holding the HMAC key; the key itself is never in the file."""

    url: str = ""
    name: str = ""
    secret_env: str = ""
    events: list = field(default_factory=lambda: list(WEBHOOK_EVENTS))
    timeout_seconds: float = field(default=10.0, metadata=_check(_webhook_timeout))
    #: Never read from TOML; filled from `secret_env`.
    secret: Any = None


@dataclass(frozen=True)
class Timeouts:
    renotification_seconds: int = field(default=300, metadata=_check(_positive))
    renotification_check_interval_seconds: int = field(default=60, metadata=_check(_positive))
    #: GAP-9: re-notifications per dispute before Serbero stops pinging (0 = never re-notify).
    renotification_max_count: int = field(default=12, metadata=_check(_not_negative))
    #: GAP-9: each re-notification waits this many times longer than the previous one.
    renotification_backoff_factor: float = field(default=1.0, metadata=_check(_at_least_one))
    #: How far before the saved cursor the listener resumes, to absorb clock skew.
    resume_overlap_seconds: int = field(default=60, metadata=_check(_not_negative))
    #: On a fresh database, how far back the listener reads disputes still open on the relays.
    cold_start_lookback_seconds: int = field(default=30 * 86400, metadata=_check(_not_negative))


def _language(value: str) -> str | None:
    from serbero.mediation.catalog import LANGUAGES  # the catalog's files, nothing else

    if value in LANGUAGES:
        return None
    return f'must be one of {", ".join(LANGUAGES)} (the party-text catalog), not "{value}"'


@dataclass(frozen=True)
class MediationSection:
    enabled: bool = False
    #: Rounds of questions Serbero asks (the opening one included); when the answers to the last
    #: round still leave questions, the dispute goes to a person (`round_limit`).
    max_rounds: int = field(default=2, metadata=_check(_positive))
    #: A party who has not answered a question this long is handed to a person; 0 = never.
    party_response_timeout_seconds: int = field(default=1800, metadata=_check(_not_negative))
    #: The one reminder to a silent party goes this long after the question; 0 = no reminder.
    reminder_after_seconds: int = field(default=900, metadata=_check(_not_negative))
    #: Replies are evaluated this long after a party's last message (typing three messages
    #: costs one evaluation, not three).
    quiet_period_seconds: int = field(default=20, metadata=_check(_not_negative))
    #: The language of texts to a party whose language is not known yet.
    default_language: str = field(default="en", metadata=_check(_language))
    #: More messages than this from one party within a minute is a flood: the dispute goes to a
    #: person (`flood`) instead of costing model calls.
    max_messages_per_minute: int = field(default=10, metadata=_check(_positive))
    #: What parties write after a handoff is forwarded to the solvers in batches this long.
    forward_batch_seconds: int = field(default=30, metadata=_check(_not_negative))
    solver_auth_retry_initial_seconds: int = 60
    solver_auth_retry_max_interval_seconds: int = 3600
    solver_auth_retry_max_total_seconds: int = 86400
    solver_auth_retry_max_attempts: int = 24


def _provider_name(value: str) -> str | None:
    if value in SHIPPED_PROVIDERS + DECLARED_PROVIDERS:
        return None
    return unknown_provider_message(value)


def _api_base(value: str) -> str | None:
    if value.startswith(("http://", "https://")) and len(value.split("://", 1)[1]) > 0:
        return None
    return f'must be an http:// or https:// URL, e.g. "https://api.openai.com/v1" (got "{value}")'


def _retries(value: int) -> str | None:
    return None if 0 <= value <= 10 else f"must be 0..10 extra attempts (got {value})"


def _not_negative_number(value: float) -> str | None:
    return None if value >= 0 else f"must not be negative (got {value})"


@dataclass(frozen=True)
class ReasoningFallback:
    """One `[[reasoning.fallback]]` provider, tried in order when those before it fail."""

    provider: str = field(default="openai-compatible", metadata=_check(_provider_name))
    model: str = ""
    api_base: str = field(default="", metadata=_check(_api_base))
    api_key_env: str = ""
    request_timeout_seconds: int = field(default=30, metadata=_check(_not_negative))
    followup_retry_count: int = field(default=1, metadata=_check(_retries))
    usd_per_million_input_tokens: float = field(default=0.0,
                                                metadata=_check(_not_negative_number))
    usd_per_million_output_tokens: float = field(default=0.0,
                                                 metadata=_check(_not_negative_number))
    #: Filled from the variable `api_key_env` names, never from the file.
    api_key: Any = None


@dataclass(frozen=True)
class ReasoningSection:
    enabled: bool = False
    provider: str = field(default="openai", metadata=_check(_provider_name))
    model: str = "gpt-4o-mini"
    api_base: str = field(default="https://api.openai.com/v1", metadata=_check(_api_base))
    api_key_env: str = "SERBERO_REASONING_API_KEY"
    #: Per HTTP attempt; 0 counts as 1 (RP-3).
    request_timeout_seconds: int = field(default=30, metadata=_check(_not_negative))
    #: Extra attempts after the first (RP-4).
    followup_retry_count: int = field(default=1, metadata=_check(_retries))
    #: How often idle providers are checked in the background (GAP-15).
    health_check_interval_seconds: int = field(default=120, metadata=_check(_positive))
    #: Caps on party text in one prompt: per message, and for the whole transcript.
    transcript_max_message_chars: int = field(default=2000, metadata=_check(_positive))
    transcript_max_chars: int = field(default=24000, metadata=_check(_positive))
    #: Prices, for the cost `serbero reasoning eval` and the call records report.
    usd_per_million_input_tokens: float = field(default=0.0,
                                                metadata=_check(_not_negative_number))
    usd_per_million_output_tokens: float = field(default=0.0,
                                                 metadata=_check(_not_negative_number))
    fallback: tuple[ReasoningFallback, ...] = field(default=(),
                                                    metadata=_entries(ReasoningFallback))
    #: Never read from TOML (the original ignores it there too); filled from `api_key_env`.
    api_key: Any = None


#: The prompt bundle this project ships (config/prompts/ in the source tree), installed with the
#: package so the defaults work wherever Serbero is installed and started from.
SHIPPED_PROMPTS = Path(__file__).resolve().parent / "data" / "prompts"


@dataclass(frozen=True)
class PromptsSection:
    """The prompt bundle's five files (PB-1). The defaults are the shipped bundle; a relative
    path is taken from the configuration file's directory, as `db_path` is (the original's were
    ./prompts/, relative to wherever the daemon happened to start)."""

    system_instructions_path: str = str(SHIPPED_PROMPTS / "phase3-system.md")
    classification_policy_path: str = str(SHIPPED_PROMPTS / "phase3-classification.md")
    escalation_policy_path: str = str(SHIPPED_PROMPTS / "phase3-escalation-policy.md")
    mediation_style_path: str = str(SHIPPED_PROMPTS / "phase3-mediation-style.md")
    message_templates_path: str = str(SHIPPED_PROMPTS / "phase3-message-templates.md")

    def resolved(self, base: Path | None) -> PromptsSection:
        """The same bundle with relative paths taken from `base` (the config file's directory)."""
        if base is None:
            return self
        return dataclasses.replace(self, **{
            f.name: str(base / Path(getattr(self, f.name)).expanduser())
            for f in dataclasses.fields(self)})


@dataclass(frozen=True)
class ChatSection:
    inbound_fetch_interval_seconds: int = 10


@dataclass(frozen=True)
class EscalationSection:
    enabled: bool = False
    dispatch_interval_seconds: int = field(default=30, metadata=_check(_positive))
    fallback_to_all_solvers: bool = False


TABLES: dict[str, type] = {
    "serbero": SerberoSection,
    "mostro": MostroSection,
    "timeouts": Timeouts,
    "mediation": MediationSection,
    "reasoning": ReasoningSection,
    "prompts": PromptsSection,
    "chat": ChatSection,
    "escalation": EscalationSection,
    "notifications": NotificationsSection,
}
ARRAYS: dict[str, type] = {"relays": RelayEntry, "solvers": SolverEntry,
                           "observers": ObserverEntry, "webhooks": WebhookEntry}
PERMISSIONS = ("read", "write")


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """What the environment alone configures: the broker's Redis, logging, operator tokens.
    Every `Settings` is one; the dashboard, which needs no configuration file, reads just this
    (`load_service`)."""

    redis_url: str | None = None
    #: Prefix of every Redis key Serbero and its dramatiq broker use.
    redis_namespace: str = DEFAULT_REDIS_NAMESPACE
    #: SERBERO_LOG, else (in Settings) `[serbero].log_level`, else info.
    log_level: str = "info"
    #: SERBERO_LOG as set, None when unset: one-shot commands then log errors only.
    env_log_level: str | None = None
    #: SERBERO_LOG_FORMAT: `logfmt` or `json`.
    log_format: str = LOG_FORMATS[0]
    #: Bearer token (or basic-auth password) of `serbero dashboard`; None when unset.
    dashboard_token: Secret | None = None
    #: The token `serbero metrics` requires when set.
    metrics_token: Secret | None = None

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings):
    """Everything Serbero was configured with; built once by `load()`, passed down by the CLI."""

    private_key: Secret
    serbero_pubkey: str
    mostro_pubkey: str
    relays: tuple[str, ...]
    solvers: tuple[SolverEntry, ...]
    timeouts: Timeouts
    mediation: MediationSection
    reasoning: ReasoningSection
    prompts: PromptsSection
    chat: ChatSection
    escalation: EscalationSection
    db_url: str
    config_path: Path | None
    #: Problems that do not stop start-up but must be shown loudly (e.g. a bad solver pubkey).
    warnings: tuple[str, ...] = ()
    #: The `[mostro]` table: transport and proof-of-work overrides, take timeout.
    mostro: MostroSection = MostroSection()
    #: The default form of solver messages (a solver's `format` overrides it).
    notifications: NotificationsSection = NotificationsSection()
    #: Keys that get the first line of every solver message.
    observers: tuple[ObserverEntry, ...] = ()
    webhooks: tuple[WebhookEntry, ...] = ()

    def solver_format(self, solver: SolverEntry) -> str:
        """The form `solver`'s messages take."""
        return solver.format or self.notifications.format

    def format_for(self, hex_pubkey: str) -> str:
        """The form of messages to a key: its solver entry's, else the default (an operator's
        `--to` may name a key that is no configured solver)."""
        for solver in self.solvers:
            if solver.hex_pubkey == hex_pubkey:
                return self.solver_format(solver)
        return self.notifications.format


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """An environment value, trimmed; empty or blank counts as unset (CFG-8)."""
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _config_path(environ: Mapping[str, str]) -> Path:
    """SERBERO_CONFIG verbatim when set (CFG-1), else ./config.toml."""
    value = environ.get("SERBERO_CONFIG")
    return Path(value if value is not None else DEFAULT_CONFIG_PATH)


def _log_format(environ: Mapping[str, str], problems: list[str]) -> str:
    value = (_env(environ, "SERBERO_LOG_FORMAT") or LOG_FORMATS[0]).lower()
    if value not in LOG_FORMATS:
        problems.append(f"SERBERO_LOG_FORMAT: `{value}` is not a log format; use "
                        f"{' or '.join(LOG_FORMATS)}.")
        return LOG_FORMATS[0]
    return value


#: Shortest operator token accepted: the dashboard can requeue and delete jobs.
MIN_OPERATOR_TOKEN_CHARS = 16


def _service(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """The ServiceSettings fields but log_level, from SERBERO_REDIS_URL,
    SERBERO_REDIS_NAMESPACE, SERBERO_LOG, SERBERO_LOG_FORMAT and the operator tokens (each also
    from `<NAME>_FILE`)."""
    return {"redis_url": _redis_url(environ, problems),
            "redis_namespace": _env(environ, "SERBERO_REDIS_NAMESPACE")
            or DEFAULT_REDIS_NAMESPACE,
            "env_log_level": _env(environ, "SERBERO_LOG"),
            "log_format": _log_format(environ, problems),
            "dashboard_token": _operator_token(environ, "SERBERO_DASHBOARD_TOKEN", problems),
            "metrics_token": _operator_token(environ, "SERBERO_METRICS_TOKEN", problems)}


def load_service(environ: Mapping[str, str] | None = None) -> ServiceSettings:
    """ServiceSettings from the environment; raise ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    fields = _service(env, problems)
    level = _log_level(fields["env_log_level"] or "info", problems)
    if problems:
        raise ConfigError(problems)
    return ServiceSettings(log_level=level, **fields)


def environment_services(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment's Redis and database settings (SERBERO_REDIS_URL,
    SERBERO_REDIS_NAMESPACE, SERBERO_DB_URL) and nothing else: what `serbero demo --use-env`
    runs on, with no configuration file and no key of the deployment."""
    env = os.environ if environ is None else environ
    names = ("SERBERO_REDIS_URL", "SERBERO_REDIS_NAMESPACE", "SERBERO_DB_URL")
    return {name: value for name in names if (value := _env(env, name)) is not None}


def _log_level(level: str, problems: list[str]) -> str:
    try:
        logs.parse_level_spec(level)
    except ValueError as exc:
        problems.append(f"[serbero].log_level / SERBERO_LOG: {exc}.")
    return level


def _operator_token(environ: Mapping[str, str], name: str,
                    problems: list[str]) -> Secret | None:
    reported = len(problems)
    value = _read_secret_env(environ, name, problems)
    if value is not None and len(value) < MIN_OPERATOR_TOKEN_CHARS:
        problems.append(
            f"{name}: too short; use at least {MIN_OPERATOR_TOKEN_CHARS} characters, e.g. the "
            "output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.")
    return Secret(value) if value and len(problems) == reported else None


def _read_secret_env(environ: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    """`NAME`, or the contents of the file named by `NAME_FILE`, which must be mode 0600."""
    direct = _env(environ, name)
    path = _env(environ, f"{name}_FILE")
    if path is None:
        return direct
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(
                f"{name}_FILE: {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run `chmod 600 {path}`."
            )
            return None
        return Path(path).read_text().strip() or None
    except OSError as exc:
        problems.append(f"{name}_FILE: cannot read {path}: {exc.strerror}.")
        return None


def _build(cls: type, raw: Any, where: str, problems: list[str]) -> Any:
    """Build one section dataclass from its TOML table, reporting unknown keys and bad types."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a table, not {type(raw).__name__}.")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        f = fields.get(key)
        if f is None:
            known = ", ".join(sorted(fields))
            problems.append(f"{where}: unknown key `{key}` (known keys: {known}).")
            continue
        if key == "api_key":
            if cls is not ReasoningSection:  # the original ignores it in [reasoning] only
                problems.append(f"{where}.api_key: keys are never read from the file; put it "
                                "in the environment variable that api_key_env names.")
            continue  # never taken from the file (CFG-9): the key comes from the environment
        if cls is WebhookEntry and key == "secret":
            problems.append(f"{where}.secret: never in the file; put the key in an environment "
                            "variable and name it with secret_env.")
            continue
        entry_cls = f.metadata.get("entries")
        if entry_cls is not None:
            if not isinstance(value, list):
                problems.append(f"{where}.{key}: must be an array of tables, "
                                f"e.g. [[{where.strip('[]')}.{key}]].")
                continue
            values[key] = tuple(_build(entry_cls, item, f"[[{where.strip('[]')}.{key}]] #{i + 1}",
                                       problems) for i, item in enumerate(value))
            continue
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        expected = type(default)
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            problems.append(
                f"{where}.{key}: expected {expected.__name__}, got {type(value).__name__} "
                f"({value!r})."
            )
            continue
        check = f.metadata.get("check")
        message = check(value) if check else None
        if message:
            problems.append(f"{where}.{key}: {message}.")
            continue
        values[key] = float(value) if expected is float else value
    return cls(**values)


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                f"config: no file at {path}. Write a starting file with `{SAMPLE_COMMAND} > "
                f"{path}` (every key documented), or point SERBERO_CONFIG at your file."
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"config: cannot read {path}: {exc}."]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config: {path} is not valid TOML: {exc}."]) from None


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the file and the environment; raise ConfigError listing every problem found."""
    env = os.environ if environ is None else environ
    path = path or _config_path(env)
    doc = _parse_toml(path)
    settings = from_mapping(doc, env, path=path)
    secret_in_file = isinstance(doc.get("serbero"), dict) and doc["serbero"].get("private_key")
    if secret_in_file and os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        settings = settings.replace(warnings=(
            *settings.warnings,
            f"{path} holds [serbero].private_key and is readable by other users; run "
            f"`chmod 600 {path}` or move the key to SERBERO_PRIVATE_KEY_FILE."))
    return settings


def from_mapping(
    doc: Mapping[str, Any], environ: Mapping[str, str] | None = None, *, path: Path | None = None
) -> Settings:
    """Build Settings from an already-parsed TOML document (the demo and tests use this)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    warnings: list[str] = []
    sections, arrays = _sections(doc, problems)
    serbero: SerberoSection = sections["serbero"]
    secret, serbero_pubkey = _identity(serbero, env, problems)
    mostro_pubkey = _mostro_pubkey(sections["mostro"], problems)
    relays = _relays(arrays["relays"], problems, warnings)
    solvers = _solvers(arrays["solvers"], problems, warnings)
    sections["reasoning"] = _reasoning(sections["reasoning"], env, problems)
    _mediation(sections["mediation"], sections["escalation"], problems)
    observers = _observers(arrays["observers"], problems, warnings)
    _refuse_own_key(serbero_pubkey, solvers, observers, problems)
    webhooks = _webhooks(arrays["webhooks"], env, problems)
    tiers_config.check(sections["notifications"].tiers, solvers, observers=observers,
                       webhooks=webhooks, problems=problems, warnings=warnings)
    db_url = _database_url(serbero, env, problems, base=path.parent if path else None)
    service = _service(env, problems)
    level = _log_level(service["env_log_level"] or serbero.log_level, problems)

    if problems:
        raise ConfigError(problems)
    return Settings(
        private_key=Secret(secret),
        serbero_pubkey=serbero_pubkey,
        mostro_pubkey=mostro_pubkey,
        relays=relays,
        solvers=solvers,
        timeouts=sections["timeouts"],
        mediation=sections["mediation"],
        reasoning=sections["reasoning"],
        prompts=sections["prompts"].resolved(path.parent if path else None),
        chat=sections["chat"],
        escalation=sections["escalation"],
        db_url=db_url,
        log_level=level,
        config_path=path,
        warnings=tuple(warnings),
        mostro=sections["mostro"],
        notifications=sections["notifications"],
        observers=observers,
        webhooks=webhooks,
        **service,
    )


def _sections(doc: Mapping[str, Any],
              problems: list[str]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    for name in doc:
        if name not in TABLES and name not in ARRAYS:
            known = ", ".join([*(f"[{n}]" for n in TABLES), *(f"[[{n}]]" for n in ARRAYS)])
            problems.append(f"config: unknown section `[{name}]` (known sections: {known}).")
    sections = {name: _build(cls, doc.get(name, {}), f"[{name}]", problems)
                for name, cls in TABLES.items()}
    arrays: dict[str, list[Any]] = {}
    for name, cls in ARRAYS.items():
        raw = doc.get(name, [])
        if not isinstance(raw, list):
            problems.append(f"[[{name}]]: must be an array of tables, e.g. [[{name}]].")
            raw = []
        arrays[name] = [_build(cls, item, f"[[{name}]] #{i + 1}", problems)
                        for i, item in enumerate(raw)]
    return sections, arrays


def _identity(serbero: SerberoSection, env: Mapping[str, str],
              problems: list[str]) -> tuple[str, str]:
    """Serbero's secret (hex) and public key; the secret never appears in a message."""
    reported = len(problems)
    from_env = _read_secret_env(env, "SERBERO_PRIVATE_KEY", problems)
    secret = from_env or serbero.private_key
    if not from_env:
        source = "[serbero].private_key"
    elif _env(env, "SERBERO_PRIVATE_KEY_FILE") is not None:
        source = f"SERBERO_PRIVATE_KEY_FILE ({_env(env, 'SERBERO_PRIVATE_KEY_FILE')})"
    else:
        source = "SERBERO_PRIVATE_KEY"
    if not secret:
        if len(problems) > reported:
            return "", ""  # the key file's own problem says it all
        problems.append("[serbero].private_key: missing. Set it in the file or in "
                        "SERBERO_PRIVATE_KEY (`serbero keys generate` makes one).")
        return "", ""
    try:
        return parse_secret_key(secret)
    except ValueError:
        problems.append(f"{source}: not a valid secret key; use 64 hex characters or nsec1… "
                        "(`serbero keys generate --out FILE` writes one).")
        return "", ""


def _mostro_pubkey(mostro: MostroSection, problems: list[str]) -> str:
    if not mostro.pubkey:
        problems.append(
            "[mostro].pubkey: missing; set it to your Mostro node's pubkey (hex or npub1…).")
        return ""
    try:
        return parse_public_key(mostro.pubkey)
    except ValueError:
        problems.append(f"[mostro].pubkey: `{mostro.pubkey}` is not a valid public key; "
                        "use 64 hex characters or npub1….")
        return ""


def _relays(entries: list[RelayEntry], problems: list[str],
            warnings: list[str]) -> tuple[str, ...]:
    relays = tuple(r.url.strip() for r in entries)
    if not relays:
        problems.append(
            'relays: none configured, so no dispute can be seen. Add [[relays]] url = "wss://…".')
    first: dict[str, int] = {}
    for i, url in enumerate(relays):
        where = f"[[relays]] #{i + 1}.url"
        if not url.startswith(("ws://", "wss://")):
            problems.append(f"{where}: `{url}` must start with wss:// or ws://.")
            continue
        try:
            host = urlsplit(url).hostname
            normal = str(RelayUrl.parse(url)).rstrip("/")
        except (ValueError, NostrSdkError):
            host = normal = None
        if not host or normal is None:
            problems.append(f"{where}: `{url}` names no host; write it as wss://relay.example.")
            continue
        if normal in first:
            warnings.append(f"{where}: `{url}` is the same relay as [[relays]] "
                            f"#{first[normal] + 1}; remove one of them.")
        first.setdefault(normal, i)
    return relays


def _solvers(entries: list[SolverEntry], problems: list[str],
             warnings: list[str]) -> tuple[SolverEntry, ...]:
    for i, solver in enumerate(entries):
        if solver.permission not in PERMISSIONS:
            problems.append(f"[[solvers]] #{i + 1}.permission: `{solver.permission}` is not "
                            'allowed; use "read" or "write" (lowercase).')
        if solver.format and (message := _notice_format(solver.format)):
            problems.append(f"[[solvers]] #{i + 1}.format: {message} (or leave it out to use "
                            "[notifications].format).")
        if solver.hex_pubkey is None:
            warnings.append(
                f"[[solvers]] #{i + 1}.pubkey: `{solver.pubkey}` does not parse; every "
                "notification to this solver will be recorded as failed (invalid pubkey).")
    if not entries:
        warnings.append('solvers: none configured; disputes will be recorded but nobody will be '
                        'told. Add a [[solvers]] table with pubkey = "npub1…".')
    elif all(solver.hex_pubkey is None for solver in entries):
        warnings.append(f"solvers: none of the {len(entries)} configured has a valid pubkey; "
                        "disputes will be recorded but nobody will be told.")
    return tuple(entries)


def _observers(entries: list[ObserverEntry], problems: list[str],
               warnings: list[str]) -> tuple[ObserverEntry, ...]:
    for i, observer in enumerate(entries):
        if observer.hex_pubkey is None:
            warnings.append(
                f"[[observers]] #{i + 1}.pubkey: `{observer.pubkey}` does not parse; every "
                "notice to this observer will be recorded as failed (invalid pubkey).")
    return tuple(entries)


def _http_url(url: str) -> bool:
    try:
        parsed = urlsplit(url)
        return parsed.scheme in ("http", "https") and bool(parsed.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False


def _refuse_own_key(serbero_pubkey: str, solvers: tuple[SolverEntry, ...],
                    observers: tuple[ObserverEntry, ...], problems: list[str]) -> None:
    """Serbero must not message itself: its own DMs would be read back as Mostro replies."""
    if not serbero_pubkey:
        return
    for table, entries in (("solvers", solvers), ("observers", observers)):
        for i, entry in enumerate(entries):
            if entry.hex_pubkey == serbero_pubkey:
                problems.append(
                    f"[[{table}]] #{i + 1}.pubkey: `{entry.pubkey}` is Serbero's own key; a "
                    "message to itself would be read back as a Mostro reply. Use the person's "
                    "(or the watchdog's) key.")


def _webhooks(entries: list[WebhookEntry], env: Mapping[str, str],
              problems: list[str]) -> tuple[WebhookEntry, ...]:
    """Each webhook with its name (default `webhook-<n>`) and secret; URLs must be http(s)."""
    out: list[WebhookEntry] = []
    names: set[str] = set()
    for i, hook in enumerate(entries):
        where = f"[[webhooks]] #{i + 1}"
        name = hook.name.strip() or f"webhook-{i + 1}"
        if name in names:
            problems.append(f"{where}.name: `{name}` is used twice; give each webhook its own.")
        names.add(name)
        if not _http_url(hook.url.strip()):
            problems.append(f"{where}.url: must be an http:// or https:// URL with a host "
                            f"(webhook `{name}`).")
        unknown = [e for e in hook.events if e not in WEBHOOK_EVENTS]
        if unknown or not hook.events:
            problems.append(f"{where}.events: {', '.join(map(repr, unknown)) or 'empty'}; "
                            f"choose from {', '.join(WEBHOOK_EVENTS)}.")
        secret = None
        if hook.secret_env.strip():
            reported = len(problems)
            secret = _read_secret_env(env, hook.secret_env.strip(), problems)
            if secret is None and len(problems) == reported:
                variable = hook.secret_env.strip()
                problems.append(f"{where}.secret_env: `{variable}` is not set; set it (or "
                                f"`{variable}_FILE`), or drop secret_env to send unsigned.")
        out.append(dataclasses.replace(hook, name=name, url=hook.url.strip(),
                                       events=list(dict.fromkeys(hook.events)),
                                       secret=Secret(secret) if secret else None))
    return tuple(out)


def _with_key(entry: Any, where: str, enabled: bool, env: Mapping[str, str],
              problems: list[str]) -> Any:
    """The entry with its API key from `api_key_env` (or `<api_key_env>_FILE`), CFG-9."""
    var = entry.api_key_env.strip()
    if not var:
        if enabled:
            problems.append(f"{where}.api_key_env is empty but [reasoning].enabled = true; name "
                            "the environment variable that holds the provider's API key.")
        return entry
    key = _read_secret_env(env, var, problems)
    if key is None and enabled:
        problems.append(f"{where}: reasoning provider enabled but credential env var `{var}` "
                        f"(or `{var}_FILE`) is unset or empty.")
    return dataclasses.replace(entry, api_key=Secret(key) if key else None)


def _reasoning(reasoning: ReasoningSection, env: Mapping[str, str],
               problems: list[str]) -> ReasoningSection:
    """Resolve every provider's key and check that the chain fits a mediation job's time."""
    fallback = []
    for i, entry in enumerate(reasoning.fallback):
        where = f"[[reasoning.fallback]] #{i + 1}"
        for key in ("model", "api_base"):
            if not getattr(entry, key):
                problems.append(f"{where}.{key}: missing; every fallback names its provider, "
                                "model, api_base and api_key_env.")
        fallback.append(_with_key(entry, where, reasoning.enabled, env, problems))
    reasoning = _with_key(reasoning, "[reasoning]", reasoning.enabled, env, problems)
    budget = chain_budget_s([reasoning, *fallback])
    if budget > MEDIATION_JOB_LIMIT_S:
        problems.append(
            f"[reasoning]: request_timeout_seconds times (followup_retry_count + 1) over "
            f"{1 + len(fallback)} provider(s) may take up to {budget:.0f}s, longer than the "
            f"{MEDIATION_JOB_LIMIT_S}s a mediation job may run; lower the timeouts or retries.")
    return dataclasses.replace(reasoning, fallback=tuple(fallback))


def _mediation(mediation: MediationSection, escalation: EscalationSection,
               problems: list[str]) -> None:
    """Mediation hands disputes to people: its handoffs need the dispatcher that sends them."""
    if mediation.enabled and not escalation.enabled:
        problems.append("[mediation].enabled = true needs [escalation].enabled = true: every "
                        "handoff mediation makes is sent to the solvers by the escalation "
                        "dispatcher; enable it, or turn mediation off.")
    timeout, reminder = (mediation.party_response_timeout_seconds,
                         mediation.reminder_after_seconds)
    if timeout and reminder >= timeout:
        problems.append(f"[mediation].reminder_after_seconds ({reminder}) must be less than "
                        f"party_response_timeout_seconds ({timeout}): the reminder comes before "
                        "the dispute goes to a person (or set it to 0 for no reminder).")


def _database_url(serbero: SerberoSection, env: Mapping[str, str], problems: list[str], *,
                  base: Path | None) -> str:
    """SERBERO_DB_URL, else an SQLite file from SERBERO_DB_PATH (relative: to the working
    directory) or `[serbero].db_path` (relative: to the configuration file's directory, `base`,
    so the daemon finds its database wherever it is started from)."""
    db_url = _env(env, "SERBERO_DB_URL")
    if db_url is None:
        from_env = _env(env, "SERBERO_DB_PATH")
        if from_env is not None:
            return sqlite_url(from_env)
        db_path = Path(serbero.db_path).expanduser()
        return sqlite_url(db_path if base is None or db_path.is_absolute() else base / db_path)
    if not db_url.startswith(("sqlite:", "postgres://", "postgresql://", "postgresql+pool://")):
        problems.append(f"SERBERO_DB_URL: unsupported scheme in `{redact_url(db_url)}`; "
                        "use sqlite:////abs/path.db or postgresql://user@host/db.")
    return db_url


def _redis_url(env: Mapping[str, str], problems: list[str]) -> str | None:
    """SERBERO_REDIS_URL, checked by the parser redis-py itself uses."""
    url = _env(env, "SERBERO_REDIS_URL")
    if url is not None:
        from redis.connection import parse_url

        try:
            parse_url(url)
        except ValueError as exc:
            problems.append(f"SERBERO_REDIS_URL: `{redact_url(url)}` does not parse ({exc}); "
                            "write it as redis://host:6379/0.")
    return url


def sqlite_url(db_path: str | Path) -> str:
    """A peewee URL for an SQLite file; a relative path is taken from the working directory."""
    return f"sqlite:///{Path(db_path).absolute()}"


def redact_url(url: str) -> str:
    """A database URL with any password replaced, safe to print."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url

