"""The rationale store (RAT-1…RAT-5, TST-U9, GAP-17) on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from serbero.mediation import rationale
from serbero.mediation.rationale import Provenance, RationaleConflict
from serbero.reasoning.models import Rationale, RationaleRef
from serbero.reasoning.types import RationaleText

P = Provenance("openai", "gpt-4o-mini", "phase3-default", "a" * 64)
TEXT = RationaleText("Both accounts agree; the transfer was late.")


@pytest.fixture
def store(backend, db):
    return rationale.store


def test_the_id_is_the_sha256_of_the_text():
    assert rationale.rationale_id("abc") == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert rationale.rationale_id("").startswith("e3b0c442")


def test_storing_the_same_text_twice_in_a_scope_keeps_one_row(store):
    first = store(TEXT, P, dispute_id="d", session_id="s1", at=1)
    again = store(TEXT, P, dispute_id="d", session_id="s1", at=2)
    assert first == again == rationale.rationale_id(TEXT.reveal())
    assert Rationale.select().count() == 1 and RationaleRef.select().count() == 1


def test_two_sessions_with_the_same_text_both_refer_to_it(store):
    # GAP-17: identical (here empty) rationales in two sessions must not collide
    empty = RationaleText("")
    a = store(empty, P, dispute_id="d1", session_id="s1", at=1)
    b = store(empty, Provenance(P.provider, P.model, P.prompt_bundle_id, "b" * 64),
              dispute_id="d2", session_id="s2", at=2)
    assert a == b and Rationale.select().count() == 1
    refs = {(r.session_id, r.policy_hash) for r in RationaleRef.select()}
    assert refs == {("s1", "a" * 64), ("s2", "b" * 64)}


def test_a_fallback_provider_giving_the_same_text_in_a_session_is_another_reference(store):
    store(TEXT, P, dispute_id="d", session_id="s1", at=1)
    store(TEXT, Provenance("anthropic", "claude-x", P.prompt_bundle_id, P.policy_hash),
          dispute_id="d", session_id="s1", at=2)
    assert RationaleRef.select().count() == 2


def test_the_same_reference_under_another_bundle_is_a_provenance_conflict(store):
    store(TEXT, P, dispute_id="d", session_id="s1", at=1)
    other = Provenance(P.provider, P.model, "phase3-default", "c" * 64)
    with pytest.raises(RationaleConflict) as info:
        store(TEXT, other, dispute_id="d", session_id="s1", at=2)
    assert str(info.value) == (f"rationale provenance conflict: rationale "
                               f"{rationale.rationale_id(TEXT.reveal())} already persisted with "
                               "different policy_hash")
    assert RationaleRef.get().policy_hash == "a" * 64  # the first writer keeps the row


def test_an_opening_rationale_is_rebound_to_its_session(store):
    rid = store(TEXT, P, dispute_id="d", session_id=None, at=1)  # RAT-4: session NULL
    assert Rationale.get_by_id(rid).session_id is None
    rationale.rebind(rid, dispute_id="d", session_id="s9", at=5)
    assert Rationale.get_by_id(rid).session_id == "s9"
    assert {r.scope for r in RationaleRef.select()} == {"dispute:d", "session:s9"}


def test_the_text_is_only_in_the_rationale_table(store):
    rid = store(TEXT, P, dispute_id="d", session_id="s1", at=1)
    assert rationale.text_of(rid) == TEXT
    refs = json.dumps(list(RationaleRef.select().dicts()))
    assert TEXT.reveal() not in refs and TEXT.reveal() not in repr(TEXT)
    assert repr(TEXT) == f"RationaleText(<{len(TEXT.reveal())} bytes redacted>)"
