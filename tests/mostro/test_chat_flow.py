"""Dispute chat over a real in-process relay, after a real take: a simulated buyer and Serbero
talk both ways on the current kind-14 envelope; forged, malformed and replayed envelopes are
refused with their reasons and change nothing; attachments and legacy chat are read."""

import time

import pytest
from nostr_sdk import Keys, PublicKey, SecretKey, nip44_decrypt

from serbero import clock
from serbero.mostro import chat, chat_store, take
from serbero.mostro.chat_receive import ChatGuard
from serbero.mostro.models import ChatSeen
from tests.mostro.craft import envelope


@pytest.fixture
def dispute(nostr_loop, serbero, responder, make_party, serbero_keys):
    """A dispute Serbero took, with the buyer and seller clients connected and told its key."""
    serbero.learn_node()
    dispute_id = serbero.open_dispute()
    order = responder.order_for(dispute_id)
    buyer, seller = make_party(order.buyer, "buyer"), make_party(order.seller, "seller")
    serbero.take(dispute_id)
    assert serbero.replies(1) == ["taken"]
    nostr_loop.run(buyer.wait_for_solver(), 15)
    nostr_loop.run(seller.wait_for_solver(), 15)
    request = take.latest(dispute_id)

    class Dispute:
        id = dispute_id
        # Serbero re-derives each channel from the stored trade keys (GAP-2)
        buyer_keys = chat.derive_chat_keys(serbero_keys.secret_key().to_hex(),
                                           request.buyer_pubkey)
        seller_keys = chat.derive_chat_keys(serbero_keys.secret_key().to_hex(),
                                            request.seller_pubkey)

    Dispute.buyer, Dispute.seller = buyer, seller
    return Dispute


@pytest.fixture
def inbox(nostr_loop, collector, serbero_keys):
    """Serbero's receiving side of one channel: subscribe by pub(K_sign), apply each event."""

    class Inbox:
        guard = ChatGuard()

        def open(self, name, keys, party_pubkey, *, legacy=False):
            since = chat_store.resume_since(keys.conversation, clock.now())
            flt = chat.legacy_filter(keys, since) if legacy else \
                chat.subscription_filter(keys, since)
            nostr_loop.run(collector.subscribe(name, [flt]), 10)
            self.allowed = {party_pubkey, serbero_keys.public_key().to_hex()}

        def next(self, name, keys, count, *, legacy=False):
            raws = nostr_loop.run(collector.wait_for(name, count), 15)
            return chat_store.receive(raws[count - 1], keys, allowed_signers=self.allowed,
                                      now=clock.now(), guard=self.guard, legacy=legacy)

    return Inbox()


def test_the_buyer_and_serbero_talk_both_ways(nostr_loop, dispute, inbox, bridge,
                                              serbero_keys):
    buyer = dispute.buyer
    assert buyer.chat_keys == dispute.buyer_keys  # both sides derived the same channel
    inbox.open("buyer", dispute.buyer_keys, buyer.pubkey)
    # When the buyer writes (as mobile does, with a `u` nonce tag)
    sent = nostr_loop.run(buyer.say("Pagué a las 10:02, tengo el comprobante"), 10)
    receipt = inbox.next("buyer", dispute.buyer_keys, 1)
    # Then Serbero accepts it, attributed to the buyer's trade key
    assert receipt.outcome == "accepted"
    message = receipt.message
    assert (message.content, message.sender, message.outer_id) == (
        "Pagué a las 10:02, tengo el comprobante", buyer.pubkey, sent.id().to_hex())
    # When Serbero answers in the same channel
    answer = chat.build_message(serbero_keys, dispute.buyer_keys,
                                "Gracias. ¿Puede compartir el comprobante?", now=clock.now())
    bridge.publish(answer.as_json())
    # Then the buyer's client shows it as coming from its solver
    [got] = nostr_loop.run(buyer.wait_for_messages(1), 15)
    assert (got.content, got.sender) == ("Gracias. ¿Puede compartir el comprobante?",
                                         serbero_keys.public_key().to_hex())
    # and Serbero's subscription sees its own message as an echo, accepted once
    echo = inbox.next("buyer", dispute.buyer_keys, 2)
    assert (echo.outcome, echo.message.sender) == ("accepted", serbero_keys.public_key().to_hex())
    assert ChatSeen.select().count() == 2
    # and the cursor follows what was accepted
    assert chat_store.cursor(dispute.buyer_keys.conversation) == answer.created_at().as_secs()


def test_buyer_and_seller_channels_are_separate(nostr_loop, dispute, inbox, collector):
    inbox.open("buyer", dispute.buyer_keys, dispute.buyer.pubkey)
    assert dispute.buyer_keys.conv_pubkey != dispute.seller_keys.conv_pubkey
    nostr_loop.run(dispute.seller.say("soy el vendedor"), 10)
    nostr_loop.run(dispute.buyer.say("soy el comprador"), 10)
    receipt = inbox.next("buyer", dispute.buyer_keys, 1)
    assert receipt.message.content == "soy el comprador"
    time.sleep(0.2)
    assert len(collector.events["buyer"]) == 1  # the seller's message never reached it


def forged(keys, buyer, serbero_pubkey, case):
    """One bad envelope per rejection case the issue lists, published by the buyer's client."""
    now = clock.now()
    if case == "wrong_signer":   # inner event signed by someone who is not in the channel
        return envelope(keys, Keys.generate(), "soy el comprador, lo juro", at=now)
    if case == "second_p_tag":
        return envelope(keys, buyer.keys, "hola", at=now,
                        tags=[["p", keys.conv_pubkey], ["p", serbero_pubkey]])
    if case == "clock_skew":
        return envelope(keys, buyer.keys, "from the future", at=now + 120)
    if case == "bad_mac":
        good = envelope(keys, buyer.keys, "x", at=now).content()
        return envelope(keys, buyer.keys, at=now,
                        ciphertext=good[:60] + ("B" if good[60] == "A" else "A") + good[61:])
    raise AssertionError(case)


@pytest.mark.parametrize(("case", "reason"), [
    ("wrong_signer", "unexpected_signer"),
    ("second_p_tag", "multiple_p_tags"),
    ("clock_skew", "clock_skew"),
    ("bad_mac", "decrypt_failed"),
])
# Content over 64 KiB cannot cross this relay (it blocks events over 65536 bytes); check 4 is
# covered in test_chat_envelope.py and test_transport.py for relays that let it through.
def test_bad_envelopes_over_the_relay_are_refused_and_change_nothing(
        nostr_loop, dispute, inbox, serbero_keys, case, reason):
    inbox.open("buyer", dispute.buyer_keys, dispute.buyer.pubkey)
    bad = forged(dispute.buyer_keys, dispute.buyer, serbero_keys.public_key().to_hex(), case)
    nostr_loop.run(dispute.buyer.publish(bad), 10)
    receipt = inbox.next("buyer", dispute.buyer_keys, 1)
    assert (receipt.outcome, receipt.reason) == ("rejected", reason)
    assert ChatSeen.select().count() == 0
    assert chat_store.cursor(dispute.buyer_keys.conversation) is None


def test_a_replayed_message_is_ingested_once_even_after_a_restart(nostr_loop, dispute, inbox):
    inbox.open("buyer", dispute.buyer_keys, dispute.buyer.pubkey)
    sent = nostr_loop.run(dispute.buyer.say("una sola vez"), 10)
    assert inbox.next("buyer", dispute.buyer_keys, 1).outcome == "accepted"
    # a relay replays the same inner event in a fresh envelope, to a restarted Serbero
    keys = dispute.buyer_keys
    plaintext = nip44_decrypt(SecretKey.parse(keys.conv_secret), PublicKey.parse(keys.conv_pubkey),
                              sent.content())
    inbox.guard = ChatGuard()
    nostr_loop.run(dispute.buyer.publish(envelope(keys, dispute.buyer.keys, at=clock.now(),
                                                  plaintext=plaintext)), 10)
    replay = inbox.next("buyer", keys, 2)
    assert (replay.outcome, replay.reason) == ("rejected", "duplicate_inner")
    assert ChatSeen.select().count() == 1


def test_an_attachment_is_recorded_as_one(nostr_loop, dispute, inbox):
    inbox.open("buyer", dispute.buyer_keys, dispute.buyer.pubkey)
    nostr_loop.run(dispute.buyer.share_file(filename="comprobante.jpg"), 10)
    message = inbox.next("buyer", dispute.buyer_keys, 1).message
    assert message.attachment.filename == "comprobante.jpg"
    assert message.attachment.blossom_url.startswith("https://")
    assert ChatSeen.get().content_kind == "attachment"


def test_legacy_chat_from_an_old_client_is_read(nostr_loop, dispute, inbox):
    inbox.open("legacy", dispute.buyer_keys, dispute.buyer.pubkey, legacy=True)
    nostr_loop.run(dispute.buyer.publish(dispute.buyer.legacy_envelope("desde la app vieja")), 10)
    receipt = inbox.next("legacy", dispute.buyer_keys, 1, legacy=True)
    assert receipt.outcome == "accepted"
    assert (receipt.message.content, receipt.message.legacy) == ("desde la app vieja", True)
