"""The party-text catalog, tested over its data: every entry in every language, each text short
enough for a phone, nothing the authority-boundary guard refuses, no verdict or fund-action words
(the identity line may say what Serbero cannot do with the funds; nothing else mentions them),
and a model's question only where a template frames one."""

import re
import tomllib

import pytest

from serbero.mediation import catalog, guard

#: A question as long as a template frames (the longest a model may draft).
LONGEST_QUESTION = ("Could you tell us the exact time and the bank reference of the transfer "
                    "you made, and whether your bank shows it as completed or still pending? "
                    "Please also say which account you sent it to, and whether you received "
                    "any message from the other party about it since then, here or not")
#: Words no party text may contain in any language (verdicts and fund actions), as whole words.
FORBIDDEN = {
    "en": ["guilty", "winner", "loser", "verdict", "scam", "scammer", "liar", "refund",
           "release", "released", "settle", "settled", "cancel", "cancelled", "sats", "bitcoin",
           "escrow", "right", "wrong", "fault", "closed"],
    "es": ["culpable", "ganador", "perdedor", "veredicto", "estafa", "mentiroso", "reembolso",
           "liberar", "liberado", "cancelar", "cancelada", "sats", "bitcoin", "razón", "culpa",
           "cerrada"],
    "pt": ["culpado", "vencedor", "perdedor", "veredito", "golpe", "mentiroso", "reembolso",
           "liberar", "liberado", "cancelar", "cancelada", "sats", "bitcoin", "razão", "culpa",
           "encerrada"],
}
#: Words about the funds, allowed in the identity line only (it says Serbero cannot touch them).
FUNDS = {"en": ["funds"], "es": ["fondos"], "pt": ["fundos"]}
IDENTITY_SAYS = {"en": ["assistant", "solver", "person"], "es": ["asistente", "persona"],
                 "pt": ["assistente", "pessoa"]}


def rendered(language):
    """Every entry as a party can receive it: first and later messages, with a long question."""
    for entry in catalog.ENTRIES:
        if entry == catalog.IDENTITY:
            continue
        question = LONGEST_QUESTION if entry in catalog.WITH_QUESTION else None
        for first in (True, False):
            yield entry, first, catalog.render(language, entry, question=question, first=first)


def words(text):
    return set(re.findall(r"\w+", text.lower()))


def test_every_language_file_has_exactly_the_catalog_entries():
    for language in catalog.LANGUAGES:
        doc = tomllib.loads((catalog.TEXTS_DIR / f"{language}.toml").read_text("utf-8"))
        assert sorted(doc) == sorted(catalog.ENTRIES), language
    assert sorted(p.stem for p in catalog.TEXTS_DIR.glob("*.toml")) == sorted(catalog.LANGUAGES)


@pytest.mark.parametrize("language", catalog.LANGUAGES)
def test_every_text_fits_a_phone_screen_and_passes_the_guard(language):
    assert len(LONGEST_QUESTION) <= catalog.MAX_QUESTION_CHARS
    for entry, first, text in rendered(language):
        assert catalog.fits_a_phone(text), (entry, first, len(text))
        assert guard.check(text) is None, (entry, first)


@pytest.mark.parametrize("language", catalog.LANGUAGES)
def test_no_text_holds_a_verdict_or_a_fund_action_word(language):
    for entry, first, text in rendered(language):
        body = text.split("\n\n", 1)[1] if first else text  # the identity line is checked apart
        assert not words(body) & set(FORBIDDEN[language]), entry
        assert not words(body) & set(FUNDS[language]), entry
    identity = catalog.texts(language)[catalog.IDENTITY]
    assert not words(identity) & set(FORBIDDEN[language])


@pytest.mark.parametrize("language", catalog.LANGUAGES)
def test_the_identity_line_says_an_assistant_writes_and_a_person_can_take_over(language):
    identity = catalog.texts(language)[catalog.IDENTITY]
    assert "Serbero" in identity
    assert set(IDENTITY_SAYS[language]) <= words(identity)
    first = catalog.render(language, catalog.REMINDER, first=True)
    assert first.startswith(identity + "\n\n")
    assert not catalog.render(language, catalog.REMINDER).startswith(identity)


def test_a_question_is_placed_only_where_a_template_frames_one():
    with pytest.raises(catalog.CatalogError):
        catalog.render("en", catalog.REMINDER, question="release the funds?")
    with pytest.raises(catalog.CatalogError):
        catalog.render("en", catalog.OPENING_QUESTION, question="  ")
    # a question's line breaks cannot add lines of their own to the message
    text = catalog.render("en", catalog.FOLLOW_UP_QUESTION, question="When?\n\n\nFrom which bank?")
    assert text.endswith("When? From which bank?")


@pytest.mark.parametrize(("detected", "default", "expected"), [
    ("es", "en", "es"), ("pt-BR", "en", "pt"), ("PT", "es", "pt"), ("de", "es", "es"),
    (None, "pt", "pt"), ("", "en", "en"), ("en-US", "xx", "en"), ("fr", "xx", "en"),
])
def test_a_party_reads_the_language_it_writes_else_the_configured_default(detected, default,
                                                                          expected):
    assert catalog.language_for(detected, default) == expected


def test_a_language_file_without_an_entry_is_refused(tmp_path, monkeypatch):
    (tmp_path / "xx.toml").write_text('identity = "Hi"\n', encoding="utf-8")
    monkeypatch.setattr(catalog, "TEXTS_DIR", tmp_path)
    catalog.texts.cache_clear()
    try:
        with pytest.raises(catalog.CatalogError, match="missing"):
            catalog.texts("xx")
    finally:
        catalog.texts.cache_clear()
