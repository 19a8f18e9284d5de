"""The prompt bundle (PB-1…PB-6): five operator-owned text files read once, and the policy hash
that says which bytes the model saw, pinned by every session and rationale."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from serbero.config import PromptsSection
from serbero.errors import SerberoError

#: PB-3: a constant, so sessions pinned across restarts compare equal.
PROMPT_BUNDLE_ID = "phase3-default"
#: PB-4: the domain separator that starts the hashed bytes.
HASH_DOMAIN = b"serbero/phase3\0"
#: Bundle field → `[prompts]` key, in the fixed hashing order of PB-4.
FIELDS: tuple[tuple[str, str], ...] = (
    ("system", "system_instructions_path"),
    ("classification", "classification_policy_path"),
    ("escalation", "escalation_policy_path"),
    ("mediation_style", "mediation_style_path"),
    ("message_templates", "message_templates_path"),
)


class PromptBundleError(SerberoError):
    """Raised when a bundle file cannot be read; names the `[prompts]` key and the path."""

    def __init__(self, key: str, path: str, reason: str) -> None:
        self.key = key
        self.path = path
        super().__init__(f"[prompts].{key}: cannot read {path} ({reason}); mediation is off "
                         "until the file is readable and Serbero restarts")


@dataclass(frozen=True)
class PromptBundle:
    system: str = field(repr=False)
    classification: str = field(repr=False)
    escalation: str = field(repr=False)
    mediation_style: str = field(repr=False)
    message_templates: str = field(repr=False)
    policy_hash: str = ""
    bundle_id: str = PROMPT_BUNDLE_ID

    @classmethod
    def from_texts(cls, **texts: str) -> PromptBundle:
        raw = {name: texts[name].encode() for name, _ in FIELDS}
        return cls(**texts, policy_hash=policy_hash(raw))


def policy_hash(raw: dict[str, bytes]) -> str:
    """PB-4: lowercase hex SHA-256 over the domain, then each field as `name\\0 bytes`, fields
    joined by `\\0`, in FIELDS order whatever the order of `raw`; no trailing delimiter."""
    digest = hashlib.sha256(HASH_DOMAIN)
    for i, (name, _) in enumerate(FIELDS):
        if i:
            digest.update(b"\0")
        digest.update(name.encode() + b"\0")
        digest.update(raw[name])
    return digest.hexdigest()


def load(prompts: PromptsSection) -> PromptBundle:
    """Read all five files in full (PB-2); the first that cannot be read or is not UTF-8
    raises PromptBundleError naming its key and path."""
    raw: dict[str, bytes] = {}
    for name, key in FIELDS:
        path = getattr(prompts, key)
        try:
            raw[name] = Path(path).read_bytes()
        except OSError as exc:
            raise PromptBundleError(key, path, exc.strerror or type(exc).__name__) from None
        try:
            raw[name].decode("utf-8")
        except UnicodeDecodeError:
            raise PromptBundleError(key, path, "not UTF-8 text") from None
    texts = {name: data.decode("utf-8") for name, data in raw.items()}
    return PromptBundle(**texts, policy_hash=policy_hash(raw))
