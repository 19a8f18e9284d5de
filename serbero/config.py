"""Configuration: the TOML file plus SERBERO_* environment variables, turned into one frozen
`Settings` object with every problem reported at once.

This is the only module that reads the environment or the configuration file. The file format
is the Rust Serbero's `config.toml` (sections `[serbero]`, `[mostro]`, `[[relays]]`,
`[[solvers]]`, `[timeouts]`, `[mediation]`, `[reasoning]`, `[prompts]`, `[chat]`,
`[escalation]`), so an operator's existing file works unchanged; unlike the original, an unknown
section or key is an error, because a typo that silently keeps a default hides real problems.
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
    provider_budget_s,
    unknown_provider_message,
)

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


@dataclass(frozen=True)
class SerberoSection:
    private_key: str = ""
    db_path: str = "serbero.db"
    log_level: str = "info"


def _transport_choice(value: str) -> str | None:
    if value in ("auto", "v1", "v2"):
        return None
    return f'must be "auto", "v1" (gift wrap) or "v2" (kind 14), not "{value}"'


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

    @property
    def hex_pubkey(self) -> str | None:
        """The pubkey as hex, or None when it does not parse."""
        try:
            return parse_public_key(self.pubkey)
        except ValueError:
            return None


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


@dataclass(frozen=True)
class MediationSection:
    enabled: bool = False
    max_rounds: int = 2
    party_response_timeout_seconds: int = 1800
    solver_auth_retry_initial_seconds: int = 60
    solver_auth_retry_max_interval_seconds: int = 3600
    solver_auth_retry_max_total_seconds: int = 86400
    solver_auth_retry_max_attempts: int = 24


def _provider_name(value: str) -> str | None:
    if value in SHIPPED_PROVIDERS + DECLARED_PROVIDERS:
        return None
    return unknown_provider_message(value)


def _http_url(value: str) -> str | None:
    if value.startswith(("http://", "https://")) and len(value.split("://", 1)[1]) > 0:
        return None
    return f'must be an http:// or https:// URL, e.g. "https://api.openai.com/v1" (got "{value}")'


def _retries(value: int) -> str | None:
    return None if 0 <= value <= 10 else f"must be 0..10 extra attempts (got {value})"


def _not_negative_number(value: float) -> str | None:
    return None if value >= 0 else f"must not be negative (got {value})"


def _entries(cls: type) -> dict[str, Any]:
    """Field metadata: the key holds an array of tables, each built as `cls`."""
    return {"entries": cls}


@dataclass(frozen=True)
class ReasoningFallback:
    """One `[[reasoning.fallback]]` provider, tried in order when those before it fail."""

    provider: str = field(default="openai-compatible", metadata=_check(_provider_name))
    model: str = ""
    api_base: str = field(default="", metadata=_check(_http_url))
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
    api_base: str = field(default="https://api.openai.com/v1", metadata=_check(_http_url))
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


@dataclass(frozen=True)
class PromptsSection:
    """The prompt bundle's five files (PB-1), relative to the working directory. The defaults
    are the bundle this project ships in config/prompts/ (the original's were ./prompts/)."""

    system_instructions_path: str = "config/prompts/phase3-system.md"
    classification_policy_path: str = "config/prompts/phase3-classification.md"
    escalation_policy_path: str = "config/prompts/phase3-escalation-policy.md"
    mediation_style_path: str = "config/prompts/phase3-mediation-style.md"
    message_templates_path: str = "config/prompts/phase3-message-templates.md"


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
}
ARRAYS: dict[str, type] = {"relays": RelayEntry, "solvers": SolverEntry}
PERMISSIONS = ("read", "write")


@dataclass(frozen=True)
class Settings:
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
    redis_url: str | None
    redis_namespace: str
    log_level: str
    config_path: Path | None
    #: Problems that do not stop start-up but must be shown loudly (e.g. a bad solver pubkey).
    warnings: tuple[str, ...] = ()
    #: The `[mostro]` table: transport and proof-of-work overrides, take timeout.
    mostro: MostroSection = MostroSection()
    #: SERBERO_LOG_FORMAT: `logfmt` or `json`.
    log_format: str = "logfmt"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """An environment value, trimmed; empty or blank counts as unset (CFG-8)."""
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def redis_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The Redis URL from SERBERO_REDIS_URL, or None for the embedded broker."""
    return _env(os.environ if environ is None else environ, "SERBERO_REDIS_URL")


def redis_namespace(environ: Mapping[str, str] | None = None) -> str:
    """Prefix of every Redis key Serbero and its dramatiq broker use."""
    env = os.environ if environ is None else environ
    return _env(env, "SERBERO_REDIS_NAMESPACE") or DEFAULT_REDIS_NAMESPACE


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """SERBERO_CONFIG verbatim when set (CFG-1), else ./config.toml."""
    env = os.environ if environ is None else environ
    value = env.get("SERBERO_CONFIG")
    return Path(value if value is not None else DEFAULT_CONFIG_PATH)


def log_level(environ: Mapping[str, str] | None = None) -> str | None:
    return _env(os.environ if environ is None else environ, "SERBERO_LOG")


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """SERBERO_LOG_FORMAT (`logfmt` when unset); raises ConfigError for another value."""
    problems: list[str] = []
    value = _log_format(os.environ if environ is None else environ, problems)
    if problems:
        raise ConfigError(problems)
    return value


def _log_format(environ: Mapping[str, str], problems: list[str]) -> str:
    value = (_env(environ, "SERBERO_LOG_FORMAT") or LOG_FORMATS[0]).lower()
    if value not in LOG_FORMATS:
        problems.append(f"SERBERO_LOG_FORMAT: `{value}` is not a log format; use "
                        f"{' or '.join(LOG_FORMATS)}.")
        return LOG_FORMATS[0]
    return value


#: Shortest operator token accepted: the dashboard can requeue and delete jobs.
MIN_OPERATOR_TOKEN_CHARS = 16


def dashboard_token(environ: Mapping[str, str] | None = None) -> Secret | None:
    """SERBERO_DASHBOARD_TOKEN (or SERBERO_DASHBOARD_TOKEN_FILE): the bearer token, or basic-auth
    password, of `serbero dashboard`; None when unset. Raises ConfigError when unusable."""
    return _operator_token(os.environ if environ is None else environ, "SERBERO_DASHBOARD_TOKEN")


def metrics_token(environ: Mapping[str, str] | None = None) -> Secret | None:
    """SERBERO_METRICS_TOKEN (or SERBERO_METRICS_TOKEN_FILE): the token `serbero metrics`
    requires when set; None when unset. Raises ConfigError when unusable."""
    return _operator_token(os.environ if environ is None else environ, "SERBERO_METRICS_TOKEN")


def _operator_token(environ: Mapping[str, str], name: str) -> Secret | None:
    problems: list[str] = []
    value = _read_secret_env(environ, name, problems)
    if value is not None and len(value) < MIN_OPERATOR_TOKEN_CHARS:
        problems.append(
            f"{name}: too short; use at least {MIN_OPERATOR_TOKEN_CHARS} characters, e.g. the "
            "output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.")
    if problems:
        raise ConfigError(problems)
    return Secret(value) if value else None


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
        entry_cls = f.metadata.get("entries")
        if entry_cls is not None:
            if not isinstance(value, list):
                problems.append(f"{where}.{key}: must be an array of tables, "
                                f"e.g. [[{where.strip('[]')}.{key}]].")
                continue
            values[key] = tuple(_build(entry_cls, item, f"[[{where.strip('[]')}.{key}]] #{i + 1}",
                                       problems) for i, item in enumerate(value))
            continue
        expected = type(f.default)
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
    path = path or config_path(env)
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
    db_url = _database_url(serbero, env, problems, base=path.parent if path else None)
    redis = _redis_url(env, problems)
    fmt = _log_format(env, problems)
    level = log_level(env) or serbero.log_level
    try:
        logs.parse_level_spec(level)
    except ValueError as exc:
        problems.append(f"[serbero].log_level / SERBERO_LOG: {exc}.")

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
        prompts=sections["prompts"],
        chat=sections["chat"],
        escalation=sections["escalation"],
        db_url=db_url,
        redis_url=redis,
        redis_namespace=redis_namespace(env),
        log_level=level,
        config_path=path,
        warnings=tuple(warnings),
        mostro=sections["mostro"],
        log_format=fmt,
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
    budget = sum(provider_budget_s(e.request_timeout_seconds, e.followup_retry_count + 1)
                 for e in [reasoning, *fallback])
    if budget > MEDIATION_JOB_LIMIT_S:
        problems.append(
            f"[reasoning]: request_timeout_seconds times (followup_retry_count + 1) over "
            f"{1 + len(fallback)} provider(s) may take up to {budget:.0f}s, longer than the "
            f"{MEDIATION_JOB_LIMIT_S}s a mediation job may run; lower the timeouts or retries.")
    return dataclasses.replace(reasoning, fallback=tuple(fallback))


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
    url = redis_url(env)
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

