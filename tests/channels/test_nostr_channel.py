"""The `nostr` channel alone: what the relays accepted becomes a delivery, a relay's refusal
stays a PublishError that says whether a retry can help, and an event still in memory is sent
as it is (no parse of the stored JSON)."""

from nostr_sdk import EventBuilder, Keys, Kind

from serbero.db.models import Outbox
from serbero.errors import PublishError
from serbero.nostr.relays import PublishOutcome
from serbero.outbox.channels import Delivered
from serbero.outbox.nostr import NostrChannel


class Relays:
    def __init__(self, answers):
        self.answers, self.given = list(answers), []

    def publish_many(self, events):
        self.given.extend(events)
        return [self.answers.pop(0) for _ in events]


def row(message_id):
    return Outbox(message_id=message_id, body=f'{{"id":"{message_id}"}}')


def test_each_row_gets_its_relays_outcome_in_order():
    refused = PublishError("blocked: no", permanent=True)
    relays = Relays([PublishOutcome("a", ("wss://one", "wss://two")), refused])
    assert NostrChannel(relays).deliver([row("a"), row("b")], signed={}) == [
        Delivered(("wss://one", "wss://two")), refused]
    assert relays.given == ['{"id":"a"}', '{"id":"b"}']


def test_an_event_in_memory_is_sent_instead_of_its_stored_json():
    event = EventBuilder(Kind(1), "x").finalize(Keys.generate())
    relays = Relays([PublishOutcome(event.id().to_hex(), ("wss://one",))])
    NostrChannel(relays).deliver([row(event.id().to_hex())], signed={event.id().to_hex(): event})
    assert relays.given == [event]
