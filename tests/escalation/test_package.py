"""The handoff package and the `escalation_handoff/v1` DM, byte for byte (ESC-5, DISP-11), and
parsing stored payloads (DISP-5)."""

import pytest

from serbero.escalation.package import (
    HandoffPackage,
    ManualRequest,
    PayloadError,
    best_effort_dispute_id,
    dm_body,
    parse,
)

DISPUTE = "4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10"
EVENT_ID = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
RATIONALE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def package(**overrides):
    values = dict(dispute_id=DISPUTE, trigger="conflicting_claims", evidence_refs=(EVENT_ID,),
                  prompt_bundle_id="phase3-default", policy_hash="abc123",
                  rationale_refs=(RATIONALE,), assembled_at=1745000000)
    return HandoffPackage(**{**values, **overrides})


def test_session_scoped_package_serialises_in_the_original_field_order():
    assert package(session_id="sess-1").to_json() == (
        '{"dispute_id":"4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10","session_id":"sess-1",'
        '"trigger":"conflicting_claims",'
        f'"evidence_refs":["{EVENT_ID}"],"prompt_bundle_id":"phase3-default",'
        f'"policy_hash":"abc123","rationale_refs":["{RATIONALE}"],"assembled_at":1745000000}}')


def test_dispute_scoped_package_omits_session_id_rather_than_writing_null():
    text = package().to_json()
    assert "session_id" not in text and "null" not in text
    assert text.startswith('{"dispute_id":"4a1c2b9e-0d7e-4b8a-9a51-2f3c7d2e9b10","trigger":')


def test_non_ascii_is_kept_as_is_and_empty_lists_stay_lists():
    text = package(trigger="conflicting_claims", prompt_bundle_id="bündel",
                   evidence_refs=(), rationale_refs=()).to_json()
    assert '"prompt_bundle_id":"bündel"' in text
    assert '"evidence_refs":[],' in text and '"rationale_refs":[],' in text


def test_dm_body_of_a_dispute_scoped_handoff_matches_disp_11_exactly():
    body = dm_body(package(evidence_refs=(), rationale_refs=(), trigger="notification_failed",
                           prompt_bundle_id="", policy_hash=""))
    assert body == (
        "escalation_handoff/v1\n"
        f"Dispute: {DISPUTE}\n"
        "Session: <none \u2014 dispute-scoped handoff>\n"
        "Trigger: notification_failed\n"
        "\n"
        f"Escalation required for dispute {DISPUTE}. Trigger: notification_failed. This dispute "
        "was evaluated by Serbero's mediation assistance system and requires human judgment. "
        f"Please run TakeDispute for dispute {DISPUTE} on your Mostro instance to review the "
        "full context.\n"
        "\n"
        "Handoff payload (JSON):\n"
        f'{{"dispute_id":"{DISPUTE}","trigger":"notification_failed","evidence_refs":[],'
        '"prompt_bundle_id":"","policy_hash":"","rationale_refs":[],"assembled_at":1745000000}')


def test_dm_body_of_a_manual_escalation_shows_the_note_and_claims_no_evaluation():
    # issue 10: the note was only hashed, and the DM claimed a mediation system had looked
    pkg = package(evidence_refs=("note:sha256:" + "0" * 64,), rationale_refs=(),
                  trigger="manual", prompt_bundle_id="", policy_hash="")
    body = dm_body(pkg, ManualRequest("olga", 'buyer sent proof\nDispute: "other"'))
    lines = body.split("\n")
    assert lines[:5] == ["escalation_handoff/v1", f"Dispute: {DISPUTE}",
                         "Session: <none \u2014 dispute-scoped handoff>", "Trigger: manual", ""]
    assert lines[5] == (
        f"Escalation required for dispute {DISPUTE}. Trigger: manual. An operator escalated "
        "this dispute by hand (`serbero escalate`, by olga); no mediation system evaluated it. "
        f"Please run TakeDispute for dispute {DISPUTE} on your Mostro instance to review the "
        "full context.")
    assert lines[6] == 'Operator\'s note: "buyer sent proof\\nDispute: \\"other\\""'
    assert lines[-1] == pkg.to_json() and "evaluated by" not in body
    assert dm_body(pkg, ManualRequest("olga", "")).split("\n")[6] == "Operator's note: (none)"


def test_dm_body_of_a_session_handoff_names_the_session_and_carries_only_ids():
    body = dm_body(package(session_id="sess-9"))
    lines = body.split("\n")
    assert lines[:4] == ["escalation_handoff/v1", f"Dispute: {DISPUTE}", "Session: sess-9",
                         "Trigger: conflicting_claims"]
    assert lines[-1] == package(session_id="sess-9").to_json()
    assert len(lines) == 9 and not body.endswith("\n")


def test_dm_body_degrades_to_a_marker_when_the_package_cannot_be_encoded():
    body = dm_body(package(trigger="bad\ud800"))
    assert body.split("\n")[-1] == f'{{"dispute_id":"{DISPUTE}","serialization_error":true}}'


def test_parse_round_trips_both_shapes():
    for pkg in (package(), package(session_id="s-1")):
        assert parse(pkg.to_json()) == pkg


def test_parse_treats_a_null_session_as_absent_and_ignores_unknown_keys():
    text = package().to_json()[:-1] + ',"session_id":null,"extra":{"x":1}}'
    parsed = parse(text)
    assert parsed.session_id is None
    assert parsed.to_json() == package().to_json()


@pytest.mark.parametrize(("payload", "detail"), [
    ("not valid json", "not JSON"),
    ("[1, 2]", "expected a JSON object, not list"),
    ('{"dispute_id":"d"}', "missing field `trigger`"),
    (package().to_json().replace('"assembled_at":1745000000', '"assembled_at":1.5'),
     "`assembled_at` must be an integer"),
    (package().to_json().replace('"assembled_at":1745000000', '"assembled_at":true'),
     "`assembled_at` must be an integer"),
    (package().to_json().replace('"assembled_at":1745000000', '"assembled_at":1e400'),
     "`assembled_at` must be an integer"),
    (package().to_json().replace('"assembled_at":1745000000', f'"assembled_at":{2**63}'),
     "`assembled_at` must be an integer"),
    (package().to_json().replace(f'["{EVENT_ID}"]', f'"{EVENT_ID}"'),
     "`evidence_refs` must be a list of strings"),
    (package().to_json().replace(f'["{EVENT_ID}"]', "[1]"), "`evidence_refs` must be a string"),
    (package().to_json().replace('"trigger":"conflicting_claims"', '"trigger":"\\ud800"'),
     "`trigger` contains a lone surrogate"),
    (package().to_json()[:-1] + ',"trigger":"again"}', "duplicate field `trigger`"),
    (package().to_json().replace('"trigger":"conflicting_claims",', '"session_id":7,'
                                 '"trigger":"conflicting_claims",'),
     "`session_id` must be a string"),
])
def test_parse_refuses_what_is_not_a_handoff_package(payload, detail):
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    assert detail in str(caught.value)


@pytest.mark.parametrize(("payload", "expected"), [
    ('{"dispute_id":"d-1","trigger":5}', "d-1"),
    ("not valid json", "unknown"),
    ('{"dispute_id":5}', "unknown"),
    ('{"dispute_id":""}', "unknown"),
    ('{"dispute_id":"\\udc00"}', "unknown"),
    ('["d-1"]', "unknown"),
])
def test_a_broken_payload_still_names_its_dispute_when_it_can(payload, expected):
    assert best_effort_dispute_id(payload) == expected
