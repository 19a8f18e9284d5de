"""The prompt bundle (PB-1…PB-4, TST-U10): the shipped files, the hash's properties, and a
missing or unreadable file named by its key and path."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serbero.reasoning import bundle as bundle_files
from serbero.reasoning.bundle import FIELDS, PromptBundleError, policy_hash
from tests.reasoning.conftest import PROMPTS_DIR, shipped_prompts

NAMES = [name for name, _ in FIELDS]


def raw(*parts: bytes) -> dict[str, bytes]:
    return dict(zip(NAMES, parts, strict=True))


def test_the_shipped_bundle_loads_with_the_constant_id(bundle):
    assert bundle.bundle_id == "phase3-default"  # PB-3
    assert all(getattr(bundle, name).strip() for name in NAMES)
    assert "assistance system" in bundle.system


def test_the_hash_is_the_pb4_byte_layout():
    parts = [b"S", b"C", b"E", b"M", b"T"]
    expected = hashlib.sha256(
        b"serbero/phase3\0system\0S\0classification\0C\0escalation\0E\0"
        b"mediation_style\0M\0message_templates\0T").hexdigest()
    assert policy_hash(raw(*parts)) == expected


def test_the_hash_ignores_the_order_fields_are_given_in():
    forward = raw(b"1", b"2", b"3", b"4", b"5")
    assert policy_hash(dict(reversed(list(forward.items())))) == policy_hash(forward)


def test_moving_bytes_across_a_boundary_changes_the_hash():
    assert policy_hash(raw(b"ab", b"cd", b"", b"", b"")) != \
        policy_hash(raw(b"abc", b"d", b"", b"", b""))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=5, max_size=5), st.integers(0, 4),
       st.integers(0, 39), st.integers(1, 255))
def test_the_hash_is_deterministic_hex_and_flips_on_any_byte_change(parts, field, at, delta):
    digest = policy_hash(raw(*parts))
    assert digest == policy_hash(raw(*parts)) and len(digest) == 64
    assert digest == digest.lower() and int(digest, 16) >= 0
    changed = list(parts)
    b = bytearray(changed[field] or b"\0")
    b[at % len(b)] = (b[at % len(b)] + delta) % 256
    changed[field] = bytes(b)
    if changed[field] != parts[field]:
        assert policy_hash(raw(*changed)) != digest


def test_loaded_hash_matches_the_bytes_on_disk(bundle):
    on_disk = {name: (PROMPTS_DIR / f).read_bytes() for name, f in zip(NAMES, [
        "phase3-system.md", "phase3-classification.md", "phase3-escalation-policy.md",
        "phase3-mediation-style.md", "phase3-message-templates.md"], strict=True)}
    assert bundle.policy_hash == policy_hash(on_disk)


def test_a_missing_file_names_its_key_and_path(tmp_path):
    shutil.copytree(PROMPTS_DIR, tmp_path / "p")
    (tmp_path / "p" / "phase3-mediation-style.md").unlink()
    with pytest.raises(PromptBundleError) as info:
        bundle_files.load(shipped_prompts(tmp_path / "p"))
    message = str(info.value)
    assert "[prompts].mediation_style_path" in message
    assert str(tmp_path / "p" / "phase3-mediation-style.md") in message
    assert "\n" not in message  # one line


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    shutil.copytree(PROMPTS_DIR, tmp_path / "p")
    (tmp_path / "p" / "phase3-system.md").write_bytes(b"\xff\xfe bad")
    with pytest.raises(PromptBundleError, match=r"system_instructions_path.*not UTF-8"):
        bundle_files.load(shipped_prompts(tmp_path / "p"))


def test_an_unreadable_directory_in_place_of_a_file_is_refused(tmp_path):
    shutil.copytree(PROMPTS_DIR, tmp_path / "p")
    target = tmp_path / "p" / "phase3-message-templates.md"
    target.unlink()
    target.mkdir()
    with pytest.raises(PromptBundleError, match="message_templates_path"):
        bundle_files.load(shipped_prompts(tmp_path / "p"))
