"""The listener's subscription to solvers' `send-dm`s: only configured solvers' kind-14 events
addressed to Serbero are handed over; none is held without a solver key to follow."""

import pytest
from nostr_sdk import Keys

from serbero.errors import EventRejected
from serbero.listener import subscriptions
from serbero.messages.formats import mostro_v2_event


def dm(sender, to, text="ack"):
    return mostro_v2_event(text, dispute_id=None, signer=sender, recipient=to, now=1_700_000_000)


def test_only_a_solvers_dm_to_serbero_passes(make_settings, serbero_keys):
    ana, stranger = Keys.generate(), Keys.generate()
    settings = make_settings(solvers=[ana.public_key().to_hex()])
    sub = subscriptions.solver_replies(settings)
    assert sub.target == subscriptions.INGEST_SOLVER_REPLY
    me = serbero_keys.public_key().to_hex()
    good = dm(ana, me)
    assert sub.check(good.as_json()).event_id == good.id().to_hex()
    for raw, reason in [(dm(stranger, me).as_json(), "not_a_solver"),
                        (dm(ana, Keys.generate().public_key().to_hex()).as_json(),
                         "not_addressed_to_us"),
                        ("x" * 300_000, "oversized"), ("{", "malformed_json")]:
        with pytest.raises(EventRejected) as rejected:
            sub.check(raw)
        assert rejected.value.reason == reason
    assert [s.name for s in subscriptions.deployment(settings)][-1] == subscriptions.SOLVERS


def test_without_a_valid_solver_key_no_subscription_is_held(make_settings):
    settings = make_settings(solvers=["npub1thisisnotakey"])
    assert subscriptions.solver_replies(settings) is None
    assert subscriptions.SOLVERS not in [s.name for s in subscriptions.deployment(settings)]
