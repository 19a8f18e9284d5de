"""The labelled cases of `serbero reasoning eval`: the shipped set and the file format."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from serbero.mediation import cases
from serbero.mediation.cases import CaseError
from serbero.reasoning.types import LABELS

SHIPPED = Path(__file__).resolve().parents[1] / "fixtures" / "reasoning_cases"


def test_the_shipped_set_covers_three_languages_and_every_label():
    loaded = cases.load([SHIPPED])
    assert len(loaded) >= 30
    languages = Counter(c.language for c in loaded)
    assert set(languages) == {"en", "es", "pt"} and min(languages.values()) >= 10
    assert {c.expected_label for c in loaded} == set(LABELS)
    assert {c.expected_decision for c in loaded} == {"ask_clarification", "summarize",
                                                     "escalate"}
    assert any(c.expected_trigger == "human_requested" for c in loaded)


def test_duplicate_ids_are_refused(tmp_path):
    doc = json.loads((SHIPPED / "en-01-late-transfer.json").read_text())
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(doc))
    with pytest.raises(CaseError, match="used twice: en-01-late-transfer"):
        cases.load([tmp_path])


@pytest.mark.parametrize(("change", "names"), [
    ({"transcript": [{"party": "admin", "at": 1, "text": "x"}]}, "transcript entry 1"),
    ({"initiator": "solver"}, "initiator"),
    ({"followup": -1}, "followup"),
    ({"expected": {"label": "unclear", "decision": "close"}}, "expected.decision"),
])
def test_a_malformed_case_names_its_file_and_field(tmp_path, change, names):
    doc = {**json.loads((SHIPPED / "en-01-late-transfer.json").read_text()), **change}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CaseError) as info:
        cases.load([path])
    assert str(path) in str(info.value) and names in str(info.value)


def test_an_empty_directory_has_no_cases(tmp_path):
    with pytest.raises(CaseError, match="no cases found"):
        cases.load([tmp_path])
