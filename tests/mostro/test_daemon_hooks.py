"""The functions the daemon's listener, actor and ticker call: the listener's check, the
actor's entry point (never raising on input), the sweep, and the start-up check."""

import contextlib
import json
import logging
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nostr_sdk import EventBuilder, Keys, Kind, Tag

from serbero import clock
from serbero.errors import EventRejected
from serbero.mostro import daemon, info, take, transport
from serbero.mostro.models import TakeRequest
from serbero.mostro.protocols import V1, V2
from serbero.simulators.mostro_node import MostroNode
from serbero.simulators.mostro_responder import MostroResponder


@pytest.fixture
def settings_(make_settings, node_keys):
    return make_settings(mostro=node_keys.public_key().to_hex())


def test_the_listener_passes_the_nodes_info_and_what_is_addressed_to_serbero(
        settings_, node_keys, serbero_keys):
    me = serbero_keys.public_key().to_hex()
    node_info = MostroResponder(MostroNode(node_keys)).info_event()
    assert daemon.precheck(node_info.as_json(), settings_) == node_info.id().to_hex()
    for mode in (V1, V2):
        reply = transport.wrap("[]", transport=mode, sender=node_keys, recipient=me,
                               now=clock.now())
        assert daemon.precheck(reply.as_json(), settings_) == reply.id().to_hex()


@pytest.mark.parametrize("case", ["stranger_info", "stranger_kind14", "dispute", "not_to_us"])
def test_the_listener_drops_everything_else(settings_, node_keys, serbero_keys, case):
    me, stranger = serbero_keys.public_key().to_hex(), Keys.generate()
    event = {
        "stranger_info": lambda: MostroResponder(MostroNode(stranger)).info_event(),
        "stranger_kind14": lambda: transport.wrap("[]", transport=V2, sender=stranger,
                                                  recipient=me, now=clock.now()),
        "dispute": lambda: EventBuilder(Kind(38386), "").tags([Tag.parse(["p", me])])
        .finalize(node_keys),
        "not_to_us": lambda: transport.wrap("[]", transport=V1, sender=node_keys,
                                            recipient=stranger.public_key().to_hex(),
                                            now=clock.now()),
    }[case]()
    with pytest.raises(EventRejected):
        daemon.precheck(event.as_json(), settings_)


def test_the_actor_entry_records_info_and_rejects_other_kinds(db, settings_, node_keys,
                                                              serbero_keys):
    node_info = MostroResponder(MostroNode(node_keys), pow_bits=2).info_event()
    assert daemon.handle(node_info.as_json(), settings=settings_, signer=serbero_keys,
                         now=clock.now()).outcome == "info_recorded"
    assert daemon.handle(node_info.as_json(), settings=settings_, signer=serbero_keys,
                         now=clock.now()).outcome == "info_unchanged"
    assert info.current_profile(settings_).pow_bits == 2
    assert daemon.handle('{"kind":1}', settings=settings_, signer=serbero_keys,
                         now=clock.now()).outcome == "rejected:wrong_kind"


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200) | st.builds(
    lambda kind, content, tags: json.dumps({
        "id": "00" * 32, "pubkey": "11" * 32, "created_at": 1, "kind": kind, "tags": tags,
        "content": content, "sig": "22" * 64}),
    st.sampled_from([14, 1059, 38385, 7]), st.text(max_size=40),
    st.lists(st.lists(st.text(max_size=66), max_size=3), max_size=3)))
def test_no_input_makes_the_actor_or_the_listener_raise(settings_, serbero_keys, raw):
    assert isinstance(daemon.handle(raw, settings=settings_, signer=serbero_keys,
                                    now=clock.now()).outcome, str)
    with contextlib.suppress(EventRejected):
        daemon.precheck(raw, settings_)


def test_the_sweep_times_out_takes(settings_, serbero_keys, node_keys, record_dispute):
    dispute_id = record_dispute()
    now = int(time.time())
    take.begin(dispute_id, signer=serbero_keys, node_pubkey=node_keys.public_key().to_hex(),
               profile=info.NodeProfile(V2, 0, info.OURS, None, "config"), now=now, timeout_s=1)

    class Rt:
        settings = settings_

    assert daemon.sweep(Rt(), now + 1).outbox_ids == ()
    assert TakeRequest.get().status == "timed_out"


def test_start_up_warns_loudly_when_the_node_trusts_another_serbero(
        nostr_loop, relay, db, mostro, make_settings, caplog):
    node = MostroResponder(mostro, serbero=Keys.generate().public_key().to_hex())
    nostr_loop.run(node.announce(), 10)
    settings = make_settings(relays=[relay], mostro=mostro.pubkey)

    async def check():
        from serbero.nostr.relays import open_client

        client = await open_client([relay])
        try:
            return await daemon.startup_check(client, settings, clock.now())
        finally:
            await client.shutdown()

    for _ in range(2):  # on every start, not only the first time the event is seen
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            profile = nostr_loop.run(check(), 15)
        assert not profile.can_take and profile.refusal == "foreign_serbero_key"
        assert [r.getMessage().split(":")[0] for r in caplog.records
                if r.levelno >= logging.ERROR] == ["mostro_serbero_key_mismatch"]
    assert take.begin(str(uuid.uuid4()), signer=Keys.generate(), node_pubkey=mostro.pubkey,
                      profile=profile, now=clock.now()).outcome == "foreign_serbero_key"


def test_every_delivery_of_a_foreign_key_announcement_is_loud(db, settings_, node_keys,
                                                              serbero_keys, caplog):
    foreign = MostroResponder(MostroNode(node_keys),
                              serbero=Keys.generate().public_key().to_hex()).info_event()
    with caplog.at_level(logging.ERROR):
        for expected in ("info_recorded", "info_unchanged"):  # e.g. replayed after a restart
            assert daemon.handle(foreign.as_json(), settings=settings_, signer=serbero_keys,
                                 now=clock.now()).outcome == expected
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "mostro_serbero_key_mismatch"] * 2
    assert info.current_profile(settings_).refusal == "foreign_serbero_key"
