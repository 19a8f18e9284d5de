"""The authority-boundary guard (beyond POL-6/GAP-13): every text a model drafted — a question
to a party, a summary, any solver-facing text — is scanned before anyone sees it for fund
actions, closing the dispute, verdicts and admin commands (English, Spanish, Portuguese, from
`guard_phrases.toml`), and for Nostr identifiers. A hit means the text is never sent and the
dispute goes to a human with trigger `authority_boundary_attempt`.

Before matching, text is folded: compatibility forms (full-width, mathematical letters),
zero-width and other invisible characters removed, accents stripped, look-alike letters mapped
to Latin (Unicode's confusables data), case folded, digits and symbols used as letters read as
letters, and letters spaced out one by one joined again. Each rule is matched on the words and, for
multi-word rules, on the letters alone, so "r e l e a s e  t.h.e  f-u-n-d-s" still hits.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from serbero.mediation.redaction import contains_identifier
from serbero.reasoning.types import SummaryResponse

PHRASES_FILE = Path(__file__).with_name("guard_phrases.toml")
TRIGGER = "authority_boundary_attempt"
IDENTIFIER = "nostr_identifier"
EMPTY = "empty"
#: A rule's letters-only form shorter than this could occur by accident inside other words.
MIN_COMPACT_CHARS = 8
#: Letters a compacted stem may carry as an ending ("releas|ing", "cancel|led").
COMPACT_ENDING = "[a-z]{0,4}"

#: Invisible characters that are not in Unicode's format category (Cf is removed wholesale).
_INVISIBLE = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u180e", "\u2800"}
#: Digits and symbols written for letters; `1` stands for `l` or `i`, so both are tried.
_LEET_ANYWHERE = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                                "$": "s"})
_ONE_AS = ("l", "i")
#: A run of letters, digits and `@`/`$` with at least one letter: digits in it stand for
#: letters ("r3l3a$3"), while a number on its own ("150") stays a number.
_MIXED = re.compile(r"[a-z0-9@$]*[a-z][a-z0-9@$]*")
#: Symbols that are letters only between letters ("gu!lty"), punctuation elsewhere.
_INNER_SYMBOL = re.compile(r"(?<=[a-z])[!|](?=[a-z])")


@dataclass(frozen=True)
class GuardHit:
    """Why a text was suppressed: the rule's category and language, and the rule's own text
    (from the data file, never from the scanned text), safe to log."""

    category: str
    lang: str
    rule: str


@dataclass(frozen=True)
class _Rule:
    category: str
    lang: str
    label: str
    words: re.Pattern[str]
    compact: re.Pattern[str] | None


@cache
def _confusable_map() -> dict[int, str]:
    """Non-ASCII characters that look like one ASCII letter or digit → that character. The
    data is imported here, on the first guard check: it costs a process about 8 MB, and the
    listener and the workers of a deployment without mediation never need it."""
    from confusable_homoglyphs import confusables

    table: dict[int, str] = {}
    for char, homoglyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in homoglyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ord(char)] = target.lower()
                break
    return table


def _fold_chars(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf" and c not in _INVISIBLE)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.translate(_confusable_map()).casefold()
    text = _MIXED.sub(lambda m: m.group().translate(_LEET_ANYWHERE), text)
    return _INNER_SYMBOL.sub(lambda m: "i" if m.group() == "!" else "l", text)


def _words(folded: str) -> list[str]:
    """Words of letters and digits. Single letters one separator apart ("r e l e a s e",
    "g.u.i.l.t.y") become one word; a wider gap ("y o u   w i n") ends it."""
    out: list[str] = []
    run: list[str] = []
    last_end = 0
    for match in re.finditer(r"[a-z0-9]+", folded):
        token, gap = match.group(), match.start() - last_end
        last_end = match.end()
        if len(token) == 1 and token.isalpha():
            if run and gap > 1:
                out.append("".join(run))
                run = []
            run.append(token)
            continue
        if run:
            out.append("".join(run))
            run = []
        out.append(token)
    if run:
        out.append("".join(run))
    return out


def fold(text: str) -> list[tuple[str, str]]:
    """(words joined by spaces, letters only) for each reading of `1`, as the rules see it."""
    folded = _fold_chars(text)
    readings = []
    for one in _ONE_AS:
        words = _words(_MIXED.sub(lambda m, one=one: m.group().replace("1", one), folded))
        readings.append((" ".join(words), "".join(words)))
    return readings


def _alternation(items: list[str], whole: bool) -> str:
    ending = "" if whole else r"\w*"
    return "(?:" + "|".join(re.escape(i) for i in sorted(items, key=len, reverse=True)) + ")" \
        + ending


def _compact(first: list[str], second: list[str], determiners: list[str], whole: bool) -> str:
    ending = "" if whole else COMPACT_ENDING
    dets = "|".join(re.escape(d.replace(" ", "")) for d in determiners)
    join = lambda items: "|".join(re.escape(i.replace(" ", "")) for i in items)  # noqa: E731
    return f"(?:{join(first)}){ending}(?:{dets})?(?:{join(second)})"


def _rules_from(doc: dict[str, Any]) -> list[_Rule]:
    determiners: dict[str, list[str]] = doc.get("determiners", {})
    rules = []
    for r in doc.get("pairs", []):
        whole = r.get("whole", False)
        words = re.compile(rf"(?<!\w){_alternation(r['first'], whole)}(?: \w+){{0,{r['gap']}}}"
                           rf" {_alternation(r['second'], whole)}" + (r"(?!\w)" if whole else ""))
        compact = re.compile(_compact(r["first"], r["second"],
                                      determiners.get(r["lang"], []), whole))
        rules.append(_Rule(r["category"], r["lang"], f"{r['first'][0]} … {r['second'][0]}",
                           words, compact))
    for r in doc.get("phrases", []):
        for phrase in r["phrases"]:
            words = re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")
            letters = phrase.replace(" ", "")
            compact = (re.compile(re.escape(letters))
                       if " " in phrase and len(letters) >= MIN_COMPACT_CHARS else None)
            rules.append(_Rule(r["category"], r["lang"], phrase, words, compact))
    for r in doc.get("words", []):
        for word in r["words"]:
            rules.append(_Rule(r["category"], r["lang"], word,
                               re.compile(rf"(?<!\w){re.escape(word)}(?!\w)"), None))
    return rules


@cache
def rules() -> tuple[_Rule, ...]:
    """The compiled rules of the data file, read once per process."""
    return tuple(_rules_from(tomllib.loads(PHRASES_FILE.read_text(encoding="utf-8"))))


def check(text: str) -> GuardHit | None:
    """The first rule `text` trips, or None when it may be shown. Nostr identifiers count:
    pubkeys are never sent to the model, so one in its output is never passed on."""
    visible = "".join(c for c in unicodedata.normalize("NFKC", text)
                      if unicodedata.category(c) != "Cf" and c not in _INVISIBLE)
    if contains_identifier(visible):
        return GuardHit(IDENTIFIER, "any", "nostr identifier")
    for words, letters in fold(text):
        for rule in rules():
            if rule.words.search(words) or (rule.compact and rule.compact.search(letters)):
                return GuardHit(rule.category, rule.lang, rule.label)
    return None


def check_summary(summary: SummaryResponse) -> GuardHit | None:
    """SUM-3 and SUM-4: an empty summary or next step is suppressed like a boundary breach, and
    both texts are scanned."""
    if not summary.summary_text.strip() or not summary.suggested_next_step.strip():
        return GuardHit(EMPTY, "any", "empty summary or suggested next step")
    return check(summary.summary_text) or check(summary.suggested_next_step)
