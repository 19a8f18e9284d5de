"""Bring-up (MED-1, MED-2, PB-2): mediation off with one error line naming the key and path
when a bundle file is missing, never an exception that would stop notifications."""

from __future__ import annotations

import dataclasses
import logging
import shutil

from serbero.config import Secret
from serbero.reasoning import setup
from tests.reasoning.conftest import PROMPTS_DIR, shipped_prompts


def settings_with(make_settings, *, mediation: bool, reasoning: bool, prompts):
    s = make_settings()
    return s.replace(
        mediation=dataclasses.replace(s.mediation, enabled=mediation),
        reasoning=dataclasses.replace(s.reasoning, enabled=reasoning, api_key=Secret("k")),
        prompts=prompts)


def test_a_missing_bundle_file_turns_mediation_off_with_one_error_line(make_settings, tmp_path,
                                                                       caplog):
    shutil.copytree(PROMPTS_DIR, tmp_path / "p")
    (tmp_path / "p" / "phase3-escalation-policy.md").unlink()
    s = settings_with(make_settings, mediation=True, reasoning=True,
                      prompts=shipped_prompts(tmp_path / "p"))
    with caplog.at_level(logging.INFO):
        assert setup.bring_up(s) is None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].key == "[prompts].escalation_policy_path"
    assert errors[0].path.endswith("phase3-escalation-policy.md")


def test_a_complete_configuration_brings_up_the_bundle_and_chain(make_settings, caplog):
    s = settings_with(make_settings, mediation=True, reasoning=True, prompts=shipped_prompts())
    with caplog.at_level(logging.INFO):
        brought = setup.bring_up(s)
    assert brought is not None and brought.bundle.bundle_id == "phase3-default"
    assert [r.policy_hash for r in caplog.records if r.msg == "prompt_bundle_loaded"] == \
        [brought.bundle.policy_hash]
    brought.chain.close()


def test_mediation_needs_both_switches(make_settings, caplog):
    with caplog.at_level(logging.INFO):
        assert setup.bring_up(settings_with(make_settings, mediation=True, reasoning=False,
                                            prompts=shipped_prompts())) is None
        assert setup.bring_up(settings_with(make_settings, mediation=False, reasoning=True,
                                            prompts=shipped_prompts())) is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_current_brings_up_once_per_process(make_settings):
    s = settings_with(make_settings, mediation=True, reasoning=True, prompts=shipped_prompts())
    try:
        assert setup.current(s) is setup.current(s)
    finally:
        setup.forget()
