"""Fund isolation (DESIGN invariant 5): no code path in Serbero can produce `admin-settle` or
`admin-cancel`. The message type refuses them when built, when serialised and when parsed, and
the source holds their names in exactly one place: the refusal list."""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import serbero
from serbero.errors import EventRejected, ProtocolError
from serbero.mostro import messages, protocols, signing
from serbero.mostro.messages import FORBIDDEN_ACTIONS, MostroMessage, message_from_json

UUID = "308e1272-d5f4-47e6-bd97-3504baea9c23"
PACKAGE = Path(serbero.__file__).parent
WORKERS = PACKAGE.parent / "serbero_workers"
#: The two actions, spelled in full (not `admin-settled` / `admin-canceled`, which are replies).
SPELLED = re.compile(r"admin-(?:settle|cancel)\b")
REFUSAL_LIST = PACKAGE / "mostro" / "messages.py"


def test_the_refusal_list_names_exactly_the_two_fund_moving_actions():
    assert frozenset({"admin-settle", "admin-cancel"}) == FORBIDDEN_ACTIONS
    assert not FORBIDDEN_ACTIONS & messages.ACTIONS


@pytest.mark.parametrize("action", sorted(FORBIDDEN_ACTIONS))
@pytest.mark.parametrize("wrapper", messages.WRAPPERS)
def test_a_fund_moving_message_cannot_be_built(action, wrapper):
    with pytest.raises(ProtocolError, match="never moves funds"):
        MostroMessage(wrapper=wrapper, action=action, id=UUID, request_id=1)


@pytest.mark.parametrize("action", sorted(FORBIDDEN_ACTIONS))
def test_a_message_altered_after_construction_still_cannot_be_serialised(action):
    msg = messages.take_dispute_request(UUID, request_id=1)
    object.__setattr__(msg, "action", action)  # what a bug or a hostile change could do
    with pytest.raises(ProtocolError):
        msg.to_json()
    with pytest.raises(ProtocolError):
        signing.encode(msg, transport=protocols.V2)


@pytest.mark.parametrize("action", sorted(FORBIDDEN_ACTIONS))
def test_a_fund_moving_message_is_never_parsed_as_one(action):
    # the legacy form of mostro-core's own test string (§4 row 18)
    text = f'{{"order":{{"version":1,"id":"{UUID}","action":"{action}","payload":null}}}}'
    with pytest.raises(EventRejected) as err:
        message_from_json(text)
    assert err.value.reason == "forbidden_action"


@given(st.text(max_size=40))
def test_no_public_builder_emits_a_fund_moving_action(action):
    try:
        msg = MostroMessage(wrapper="dispute", action=action, id=UUID)
    except ProtocolError:
        return
    assert not SPELLED.search(msg.to_json())


def _sources() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *WORKERS.rglob("*.py")])


def test_the_mostro_layer_spells_them_only_in_the_refusal_list():
    # Every module of the Mostro layer and its simulators: the names appear in one line only.
    found = []
    for path in [*(PACKAGE / "mostro").rglob("*.py"), *(PACKAGE / "simulators").rglob("*.py"),
                 PACKAGE / "commands" / "mostro.py"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SPELLED.search(line):
                found.append((path.relative_to(PACKAGE).as_posix(), number, line.strip()))
    assert found == [("mostro/messages.py", _refusal_line(),
                      'FORBIDDEN_ACTIONS = frozenset({"admin-settle", "admin-cancel"})')]


def _refusal_line() -> int:
    lines = REFUSAL_LIST.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("FORBIDDEN_ACTIONS"))


def test_no_module_of_serbero_or_workers_holds_them_as_a_string_literal():
    # Prose may name them (a notice telling a human solver what to do); code may not: a
    # quoted literal of either action outside the refusal list would be a path to build one.
    literal = re.compile(r"""["']admin-(?:settle|cancel)["']""")
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{n}"
                 for path in _sources() if path != REFUSAL_LIST
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if literal.search(line)]
    assert offenders == []
