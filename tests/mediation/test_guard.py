"""The authority-boundary guard over its data file: every example phrase of every rule is caught
however it is disguised (case, accents, look-alike letters, zero-width characters, leetspeak,
full-width forms, spaced-out letters, surrounding text), the original's SUM-4 list is covered,
and ordinary dispute talk in English, Spanish and Portuguese passes."""

from __future__ import annotations

import tomllib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serbero.mediation import guard
from serbero.reasoning.types import RationaleText, SummaryResponse

DATA = tomllib.loads(guard.PHRASES_FILE.read_text(encoding="utf-8"))
MIN_COMPACT = guard.MIN_COMPACT_CHARS


def _examples() -> list[tuple[str, bool]]:
    """(example, caught even when every letter is spaced evenly). Spaced evenly, word
    boundaries are gone: words are one word anyway, long phrases have a letters-only form, and
    so do pairs whose words in between are determiners only ("release the funds", not "the
    funds will be released")."""
    out = []
    for kind in ("pairs", "phrases", "words"):
        for rule in DATA.get(kind, []):
            dets = {w for d in DATA["determiners"].get(rule["lang"], []) for w in d.split()}
            for example in rule["examples"]:
                words = example.split()
                if kind == "words":
                    even = True
                elif kind == "phrases":
                    even = any(len(p.replace(" ", "")) >= MIN_COMPACT or " " not in p
                               for p in rule["phrases"] if p in example.replace("-", " ")
                               .replace("_", " "))
                else:
                    even = all(w in dets for w in words[1:-1]) and words[0].startswith(
                        tuple(rule["first"])) and len(words) <= 3
                out.append((example, even))
    return out


EXAMPLES = _examples()
# SUM-4 of the original: every phrase it suppressed is still suppressed.
SUM4 = ["admin-settle", "admin_settle", "admin-cancel", "admin_cancel", "release funds",
        "release the funds", "settle the trade", "settle funds", "cancel trade",
        "cancel the trade", "force close", "force-close", "move funds", "transfer funds",
        "disburse funds", "close the dispute"]

# Look-alike letters, written as escapes: Cyrillic, and the Greek ones Unicode calls
# confusable with Latin letters.
CYRILLIC = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
            "x": "\u0445", "i": "\u0456", "y": "\u0443", "s": "\u0455", "j": "\u0458",
            "h": "\u04bb"}
GREEK = {"o": "\u03bf", "a": "\u03b1", "i": "\u03b9", "v": "\u03bd"}
LEET = {"e": "3", "a": "4", "o": "0", "s": "$", "l": "1", "t": "7", "i": "1"}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
ACCENTS = ["\u0301", "\u0300", "\u0302", "\u0303", "\u0308", "\u0327"]
LETTER_SEPARATORS = [" ", ".", "-", "_", "*", "·"]
WORD_GAPS = ["   ", " / ", "  |  ", " ... "]
CONTEXT = ["", "Hello.", "Thank you for waiting,", "Hola, gracias.", "Olá! Obrigado.",
           "Note:", "(automated)"]


def _alone(phrase: str, at: int) -> bool:
    """Whether the letter at `at` is a word of its own (a lone digit is no letter)."""
    return (at == 0 or phrase[at - 1] == " ") and (at + 1 == len(phrase) or phrase[at + 1] == " ")


@st.composite
def disguised(draw: st.DrawFn, phrase: str, evenly_spaced_ok: bool) -> str:
    mode = draw(st.sampled_from(["chars", "spaced-words", "spaced-even"]
                                if evenly_spaced_ok else ["chars", "spaced-words"]))
    out = []
    for original in phrase:
        ch = original
        if not ch.isalpha():
            out.append(ch)
            continue
        trick = draw(st.sampled_from(["plain", "upper", "cyrillic", "greek", "leet",
                                      "accent", "fullwidth"]))
        if trick == "upper":
            ch = ch.upper()
        elif trick == "cyrillic" and ch in CYRILLIC:
            ch = CYRILLIC[ch]
        elif trick == "greek" and ch in GREEK:
            ch = GREEK[ch]
        elif trick == "leet" and ch in LEET and mode == "chars" and ch != "i" and \
                        not _alone(phrase, len(out)):
            ch = LEET[ch]
        elif trick == "accent":
            ch += draw(st.sampled_from(ACCENTS))
        elif trick == "fullwidth":
            ch = chr(ord(ch) + 0xFEE0) if ch.isascii() else ch
        if draw(st.integers(0, 3)) == 0:
            ch += draw(st.sampled_from(ZERO_WIDTH))
        out.append(ch)
    # A word left without a letter reads as a number ("at" as "47"), which the guard leaves
    # alone by design (a number is no word): such a word keeps its first letter.
    start = 0
    for end in [i for i, c in enumerate(phrase) if c == " "] + [len(phrase)]:
        if phrase[start:end] and phrase[start].isalpha() and \
                not any(c.isalpha() for shown in out[start:end] for c in shown):
            out[start] = phrase[start] + out[start][1:]
        start = end + 1
    # `out` holds one entry per character of `phrase`: rebuild words from the spaces
    words, current = [], []
    for original, shown in zip(phrase, out, strict=True):
        if original == " ":
            words.append(current)
            current = []
        else:
            current.append(shown)
    words.append(current)
    if mode == "chars":
        text = " ".join("".join(w) for w in words)
    else:
        sep = draw(st.sampled_from(LETTER_SEPARATORS))
        gap = sep if mode == "spaced-even" else draw(st.sampled_from(WORD_GAPS))
        text = gap.join(sep.join(w) for w in words)
    return f"{draw(st.sampled_from(CONTEXT))} {text} {draw(st.sampled_from(CONTEXT))}".strip()


@pytest.mark.parametrize(("phrase", "even"), EXAMPLES, ids=[e for e, _ in EXAMPLES])
def test_each_example_is_caught_plain_and_shouted(phrase, even):
    assert guard.check(phrase) is not None
    assert guard.check(phrase.upper() + "!!") is not None


@pytest.mark.parametrize("phrase", SUM4)
def test_every_phrase_the_original_suppressed_is_still_caught(phrase):
    assert guard.check(f"Suggested next step: {phrase} now.") is not None


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(EXAMPLES).flatmap(lambda e: disguised(*e)))
def test_disguised_examples_are_caught(text):
    assert guard.check(text) is not None, repr(text)


BENIGN = [
    "the seller says the payment has not arrived",
    "The seller says the payment has not arrived yet. Could you share the transfer reference?",
    "Could you check your bank account again and tell me whether the transfer is there?",
    "At what time did you send the bank transfer, as your bank shows it?",
    "Did you transfer the funds from an account in your own name?",
    "Has the payment settled in your bank, or is it still pending?",
    "I can help in case the bank is slow. The solver handling this dispute will review it.",
    "Please look closely at the case details in your app and send a screenshot.",
    "This looks like a dispute over the payment reference only.",
    "Both parties agree the transfer was sent late; the buyer shared the reference MOSTRO-7731.",
    "el vendedor dice que el pago no ha llegado",
    "¿Podría confirmar a qué hora envió la transferencia y con qué referencia?",
    "¿Pudiste transferir los fondos desde una cuenta a tu nombre?",
    "Revise su cuenta bancaria, por favor, y cuénteme si ve el pago.",
    "En caso de que el banco tarde, avíseme. La fecha de la disputa es hoy.",
    "o vendedor diz que o pagamento não chegou",
    "Você poderia confirmar o horário da transferência e o comprovante?",
    "Pode verificar sua conta bancária de novo e me dizer se o Pix chegou?",
    "Em caso de atraso do banco, me avise por favor.",
    "Summary: the buyer paid 150 EUR at 18:40; the seller has not seen it yet.",
]


@pytest.mark.parametrize("text", BENIGN)
def test_ordinary_dispute_talk_passes(text):
    assert guard.check(text) is None, guard.check(text)


def _words(text: str) -> list[str]:
    return text.split()


VOCABULARY = {
    "en": _words("the a seller buyer says said payment transfer bank has have not yet arrived "
                 "sent account reference time could you please share confirm when did check "
                 "receipt screenshot today yesterday morning amount euros dollars pending "
                 "received wait minutes hours thank for your patience dispute solver review app "
                 "message"),
    "es": _words("el la vendedor comprador dice pago transferencia banco no ha llegado todavia "
                 "cuenta referencia hora puede usted por favor confirmar cuando envio "
                 "comprobante captura hoy ayer manana monto pesos pendiente recibido gracias "
                 "disputa mensaje revisar"),
    "pt": _words("o a vendedor comprador diz pagamento transferencia banco nao chegou ainda "
                 "conta referencia horario pode voce por favor confirmar quando enviou "
                 "comprovante hoje ontem valor reais pendente recebido obrigado disputa mensagem "
                 "verificar pix"),
}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(VOCABULARY)).flatmap(
    lambda lang: st.lists(st.sampled_from(VOCABULARY[lang]), min_size=3, max_size=25)),
    st.sampled_from([" ", ", ", ". ", "? "]))
def test_sentences_of_everyday_words_pass(words, sep):
    assert guard.check(sep.join(words)) is None


def test_nostr_identifiers_are_caught_even_with_invisible_characters():
    npub = "npub1f70xglkskd77cv7um0ws9nf8jtnwvr8d9um6x4y0844s8rdc59rqezy70k"
    assert guard.check(f"Is this you: {npub}?").category == "nostr_identifier"
    hidden = npub[:10] + "\u200b" + npub[10:]
    assert guard.check(hidden).category == "nostr_identifier"
    assert guard.check("key " + "0f" * 32).category == "nostr_identifier"


def test_a_hit_names_its_rule_from_the_data_never_the_text():
    hit = guard.check("Dear seller, kindly r-e-l-e-a-s-e the sats, my friend")
    assert hit.category == "fund_action" and hit.lang == "en"
    assert "friend" not in hit.rule and "kindly" not in hit.rule


def _summary(text: str, step: str) -> SummaryResponse:
    return SummaryResponse(text, step, RationaleText(""))


def test_a_summary_is_checked_in_both_parts_and_blank_parts_are_suppressed():
    assert guard.check_summary(_summary("Both agree it was late.", "Confirm receipt.")) is None
    assert guard.check_summary(_summary("Late transfer.", "Close the dispute in favour of "
                                        "the buyer.")).category == "closure"  # SUM-4 example
    assert guard.check_summary(_summary("x", "  ")).category == "empty"  # SUM-3
    assert guard.check_summary(_summary("", "y")).category == "empty"


def test_every_rule_has_examples_and_every_language_is_covered():
    for kind in ("pairs", "phrases", "words"):
        for rule in DATA[kind]:
            assert rule["examples"], rule
    langs = {r["lang"] for kind in ("pairs", "phrases", "words") for r in DATA[kind]}
    assert {"en", "es", "pt"} <= langs


def test_the_data_file_is_folded_already():
    # rules are matched against folded text, so they must be written folded themselves
    for kind, key in (("pairs", "first"), ("pairs", "second"), ("phrases", "phrases"),
                      ("words", "words")):
        for rule in DATA[kind]:
            for item in rule[key]:
                assert item == unicodedata.normalize("NFKD", item).encode("ascii", "ignore") \
                    .decode().lower(), item
