"""The party-facing texts: a catalog of human-written templates, one data file per language
(`texts/<language>.toml`), rendered by code. No model drafts what a party reads (upstream's
design, `reference/upstream-0.2.md` §3); a model's clarification question is placed only where a
template says `{question}`, after the guard passed it. The first message to each party starts
with the identity line.

A new language is a new file with every entry; the tests run over the data (every entry in
every language, phone-sized, nothing the authority-boundary guard refuses).
"""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path

TEXTS_DIR = Path(__file__).with_name("texts")
LANGUAGES = ("en", "es", "pt")
DEFAULT_LANGUAGE = "en"

IDENTITY = "identity"
OPENING_QUESTION, FOLLOW_UP_QUESTION = "opening_question", "follow_up_question"
REMINDER = "reminder"
HANDED_OFF, HUMAN_TOOK_OVER = "handed_off", "human_took_over"
SUMMARY_DELIVERED, RESOLVED = "summary_delivered", "resolved"
#: Every entry of a language file; those that frame a model's question; those sent while
#: Serbero is still mediating (a pending one is dropped once it stops, the others still go).
ENTRIES = (IDENTITY, OPENING_QUESTION, FOLLOW_UP_QUESTION, REMINDER, HANDED_OFF,
           HUMAN_TOOK_OVER, SUMMARY_DELIVERED, RESOLVED)
WITH_QUESTION = frozenset({OPENING_QUESTION, FOLLOW_UP_QUESTION})
WHILE_MEDIATING = frozenset({OPENING_QUESTION, FOLLOW_UP_QUESTION, REMINDER})

#: A phone shows about this much without scrolling: no message may be longer.
MAX_MESSAGE_CHARS = 640
MAX_MESSAGE_LINES = 8
#: The longest model question a template frames; a longer one is not a short question.
MAX_QUESTION_CHARS = 280


class CatalogError(ValueError):
    """Raised when a language file is missing an entry or a template is malformed."""


@cache
def texts(language: str) -> dict[str, str]:
    """One language's entries, read once per process."""
    path = TEXTS_DIR / f"{language}.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    missing = [key for key in ENTRIES if not isinstance(doc.get(key), str) or not doc[key]]
    if missing:
        raise CatalogError(f"{path.name}: missing {', '.join(missing)}")
    for key in ENTRIES:
        fields = {f for _, f, _, _ in string.Formatter().parse(doc[key]) if f is not None}
        wanted = {"question"} if key in WITH_QUESTION else set()
        if fields != wanted:
            raise CatalogError(f"{path.name}: {key} must use exactly {sorted(wanted)} "
                               f"(it uses {sorted(fields)})")
    return {key: doc[key] for key in ENTRIES}


def language_for(detected: str | None, default: str) -> str:
    """The catalog language for a party: the one a classification detected (its primary
    subtag, `pt-BR` → `pt`) when the catalog has it, else `default`."""
    primary = (detected or "").split("-", 1)[0].lower()
    if primary in LANGUAGES:
        return primary
    return default if default in LANGUAGES else DEFAULT_LANGUAGE


def render(language: str, entry: str, *, question: str | None = None,
           first: bool = False) -> str:
    """The text of `entry` in `language`, with the identity line first when this is the first
    message to the party. `question` fills a question template (required there only)."""
    catalog = texts(language)
    if entry in WITH_QUESTION:
        if not question or not question.strip():
            raise CatalogError(f"{entry} needs a question")
        body = catalog[entry].format(question=" ".join(question.split()))
    else:
        if question is not None:
            raise CatalogError(f"{entry} takes no question")
        body = catalog[entry]
    return f"{catalog[IDENTITY]}\n\n{body}" if first else body


def fits_a_phone(text: str) -> bool:
    return len(text) <= MAX_MESSAGE_CHARS and text.count("\n") < MAX_MESSAGE_LINES
