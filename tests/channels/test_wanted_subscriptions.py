"""Subscriptions that workers want for a while: the running listener subscribes when a row
appears, hands matching events to its target, and unsubscribes when the row goes."""

import asyncio

from nostr_sdk import EventBuilder, Filter, Keys, Kind

from serbero import clock
from serbero.dedup import LocalSeen
from serbero.listener import Listener, service
from serbero.nostr.relays import open_client, publish
from serbero.wanted_subscriptions import drop, want
from tests.integration.test_pipeline import Serving, wait_until


def test_the_listener_holds_a_subscription_only_while_a_worker_wants_it(
        nostr_loop, relay, db, make_settings, monkeypatch, caplog):
    monkeypatch.setattr(service, "WANTED_EVERY_S", 0.1)
    handed: list[str] = []
    listener = Listener(make_settings(relays=[relay]), targets={"collect": handed.append},
                        seen=LocalSeen(), subscriptions=[])
    author = Keys.generate()
    client = nostr_loop.run(open_client([relay]), 10)

    def note(text):
        event = EventBuilder(Kind(1), text).finalize(author)
        nostr_loop.run(publish(client, event), 10)
        return event.id().to_hex()

    serving = Serving(nostr_loop, listener)
    try:
        # When a worker wants an author's notes handed to one of the listener's targets
        want("chat-1", [Filter().kind(Kind(1)).author(author.public_key())], target="collect",
             now=clock.now())
        # and another subscription names a target this listener does not have
        want("odd-1", [Filter().kind(Kind(7))], target="no_such_job", now=clock.now())
        wait_until(lambda: "want:chat-1" in listener.wanted.held)
        # Then the running listener hands over what matches
        first = note("hello")
        wait_until(lambda: len(handed) == 1)
        assert first in handed[0]
        assert "want:odd-1" not in listener.wanted.held
        # and refuses what a relay sends under the id that does not match, or is not an event
        stranger = EventBuilder(Kind(1), "spam").finalize(Keys.generate()).as_json()
        assert listener.wanted.handle("want:chat-1", stranger) == "rejected:filter_mismatch"
        assert listener.wanted.handle("want:chat-1", "{") == "rejected:malformed_json"
        assert listener.wanted.handle("want:nobody", stranger) == "not_held"
        assert any(r.getMessage() == "wanted_subscription_unknown_target" for r in caplog.records)
        # And once the worker drops it, nothing more comes through
        assert drop("chat-1")
        wait_until(lambda: "want:chat-1" not in listener.wanted.held)
        note("anyone there?")
        nostr_loop.run(asyncio.sleep(0.5), 5)
        assert len(handed) == 1
    finally:
        serving.stop()
        nostr_loop.run(client.shutdown(), 10)
