"""Durable chat ingestion: an inner id is ingested once across restarts and workers, the cursor
only moves forward and never past the clock, and a rejection changes nothing."""

import time

import pytest
from nostr_sdk import Keys

from serbero.mostro import chat, chat_store
from serbero.mostro.chat_receive import ChatGuard
from serbero.mostro.models import ChatCursor, ChatSeen
from tests.mostro.craft import envelope

NOW = int(time.time())
SERBERO, PARTY = Keys.generate(), Keys.generate()
KEYS = chat.derive_chat_keys(SERBERO.secret_key().to_hex(), PARTY.public_key().to_hex())
ALLOWED = {PARTY.public_key().to_hex()}


def receive(event, *, now=NOW, guard=None, **kwargs):
    return chat_store.receive(event.as_json(), KEYS, allowed_signers=ALLOWED, now=now,
                              guard=guard or ChatGuard(), **kwargs)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request):
    """Both databases Serbero runs on."""
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


def test_a_message_is_ingested_once_even_after_a_restart(store):
    event = envelope(KEYS, PARTY, "pagué a las 10", at=NOW)
    first = receive(event)
    assert first.outcome == "accepted" and first.message.content == "pagué a las 10"
    # a fresh process (new in-memory guard) sees the relay replay it
    again = receive(event, guard=ChatGuard())
    assert (again.outcome, again.reason) == ("rejected", "duplicate_inner")
    assert ChatSeen.select().count() == 1
    row = ChatSeen.get()
    assert (row.conversation, row.sender, row.content_kind) == (
        KEYS.conv_pubkey, PARTY.public_key().to_hex(), "text")


def test_the_cursor_follows_accepted_messages_clamped_to_the_clock(store):
    assert chat_store.cursor(KEYS.conversation) is None
    assert chat_store.resume_since(KEYS.conversation, NOW) == NOW - 7 * 86400
    receive(envelope(KEYS, PARTY, "one", at=NOW - 100))
    assert chat_store.cursor(KEYS.conversation) == NOW - 100
    receive(envelope(KEYS, PARTY, "from a fast clock", at=NOW + 50))
    assert chat_store.cursor(KEYS.conversation) == NOW            # min(accepted, local now)
    receive(envelope(KEYS, PARTY, "late arrival", at=NOW - 500))
    assert chat_store.cursor(KEYS.conversation) == NOW            # never backwards
    assert chat_store.resume_since(KEYS.conversation, NOW) == NOW - 600


def test_a_rejected_envelope_changes_nothing(store):
    receipt = receive(envelope(KEYS, Keys.generate(), "impostor", at=NOW))
    assert (receipt.outcome, receipt.reason) == ("rejected", "unexpected_signer")
    assert ChatSeen.select().count() == 0 and ChatCursor.select().count() == 0


def test_the_callers_writes_share_the_transaction(store):
    # Given a caller whose own write fails while storing the message
    def failing(message):
        raise RuntimeError("transcript write failed")

    with pytest.raises(RuntimeError):
        receive(envelope(KEYS, PARTY, "hello", at=NOW), on_accept=failing)
    # Then the message is not marked as ingested, so the next delivery is accepted
    assert ChatSeen.select().count() == 0
    got = []
    assert receive(envelope(KEYS, PARTY, "hello", at=NOW),
                   on_accept=got.append).outcome == "accepted"
    assert [m.content for m in got] == ["hello"]


def test_an_attachment_is_recorded_as_an_attachment(store):
    descriptor = ('{"type":"image_encrypted","blossom_url":"https://b.example/x","nonce":"00",'
                  '"mime_type":"image/png","original_size":10,"filename":"a.png",'
                  '"encrypted_size":26,"width":1,"height":1}')
    assert receive(envelope(KEYS, PARTY, descriptor, at=NOW)).message.attachment is not None
    assert ChatSeen.get().content_kind == "attachment"
