"""Who receives a handoff (DISP-8, TST-P4-TARGET/BCAST/READASSIGNED/FALLBACK/EMPTY-FALLBACK)."""

import pytest
from nostr_sdk import PublicKey

from serbero.config import SolverEntry
from serbero.escalation import routing
from serbero.escalation.routing import BROADCAST, FALLBACK, MANUAL, TARGETED, UNROUTABLE


def route(solvers, assigned=None, fallback=False):
    return routing.route(solvers, fallback_to_all_solvers=fallback, assigned_solver=assigned)


def test_an_assigned_write_solver_is_targeted_alone(ana, bo):
    r = route([ana.write(), bo.write()], assigned=bo.pubkey)
    assert (r.kind, r.recipients, r.fallback_broadcast) == (TARGETED, (bo.pubkey,), False)


def test_an_assigned_solver_matches_whether_configured_as_npub_or_hex(ana, bo):
    npub = PublicKey.parse(bo.pubkey).to_bech32()
    r = route([ana.write(), SolverEntry(npub, "write")], assigned=bo.pubkey)
    assert (r.kind, r.recipients) == (TARGETED, (npub,))


def test_without_a_matching_assignment_every_write_solver_gets_it_in_config_order(ana, bo, cy):
    r = route([bo.write(), cy.read(), ana.write()], assigned=cy.pubkey.replace("a", "b"))
    assert (r.kind, r.recipients) == (BROADCAST, (bo.pubkey, ana.pubkey))


def test_an_assigned_read_solver_is_ignored_for_the_write_solvers(ana, bo):
    r = route([ana.write(), bo.read()], assigned=bo.pubkey)
    assert (r.kind, r.recipients) == (BROADCAST, (ana.pubkey,))


def test_only_read_solvers_and_fallback_on_reaches_everyone(ana, bo):
    r = route([ana.read(), bo.read()], fallback=True)
    assert (r.kind, r.recipients, r.fallback_broadcast) == (FALLBACK, (ana.pubkey, bo.pubkey),
                                                             True)


@pytest.mark.parametrize(("solvers", "fallback", "count"), [
    ("read-only", False, 2), ("none", True, 0), ("none", False, 0)])
def test_unroutable_when_no_rule_fires(ana, bo, solvers, fallback, count):
    configured = [ana.read(), bo.read()] if solvers == "read-only" else []
    r = route(configured, fallback=fallback)
    assert (r.kind, r.recipients, r.configured_solver_count) == (UNROUTABLE, (), count)
    assert routing.can_route(configured, fallback_to_all_solvers=fallback) is False


def test_a_write_solver_whose_pubkey_does_not_parse_is_still_a_recipient(ana):
    r = route([SolverEntry("npub1garbage", "write"), ana.write()])
    assert r.recipients == ("npub1garbage", ana.pubkey)


def test_the_same_solver_configured_twice_receives_one_copy(ana):
    npub = PublicKey.parse(ana.pubkey).to_bech32()
    r = route([ana.write(), SolverEntry(npub, "write")])
    assert r.recipients == (ana.pubkey,)
    assert r.configured_solver_count == 2


def test_manual_recipients_are_hex_in_the_order_given_each_once(ana, bo):
    npub = PublicKey.parse(bo.pubkey).to_bech32()
    r = routing.manual([npub, ana.pubkey, bo.pubkey])
    assert (r.kind, r.recipients) == (MANUAL, (bo.pubkey, ana.pubkey))


def test_manual_recipients_refuse_a_malformed_pubkey():
    with pytest.raises(ValueError, match="invalid public key"):
        routing.manual(["npub1nope"])
