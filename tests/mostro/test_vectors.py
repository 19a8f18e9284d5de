"""The protocol's test vectors (mostro-protocol.md §4, rows 1-14), pinned against Serbero's chat
key derivation, nostr-sdk's keys and NIP-44, and an independent NIP-44 decryption."""

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st
from nostr_sdk import Keys, Nip44Version, PublicKey, SecretKey, nip44_decrypt, nip44_encrypt

from serbero.mostro import chat
from serbero.mostro.chat import derive_chat_keys, ecdh_x, legacy_address
from serbero.mostro.messages import take_dispute_request
from tests.mostro import nip44_ref

ALICE_SECRET = "548f68890c49fa42f104c60352395e60ff030b0b407e955f1eed1400d6c0347a"    # row 1
ALICE_PUBKEY = "000053c3b4773182e7c4c1b72b272d34be01bf4414a6a25c998977c516a46a01"    # row 2
ALICE_NPUB = "npub1qqq98sa5wucc9e7ycxmjkfedxjlqr06yzjn2yhye39mu294ydgqsf8r490"
BOB_SECRET = "f258e73f07386d37133718b6127f873dd7c391b8f43b331ff8254034a13d2943"      # row 3
BOB_PUBKEY = "000009ae5cff9f6ba9b05159ec5ed58c187f5882ea77c81ed5dd19163272a5d7"      # row 4
SHARED_X = "def6633a53d07d1e829484c4d4bdbbeed2f4b14c21743e63871c174338e39475"        # row 5
CONV_PUBKEY = "bceb1cd2a8e98ee9729122a1693edcc39c3ace04582ff96a26705c5e4078a6f2"     # row 6
SIGN_PUBKEY = "1dba04571059183f76b148119cfa6f8004dad30cb4e810180a6df17386a7f0b4"     # row 7
CONV_SECRET = "786210709b3077748490720afcf6db73f8f8e85308341c2912a5067ba5e5583d"     # row 8
SIGN_SECRET = "79d0e7d968d0f0fb32cf2676ea75892335a54285bcf851e875eb5b344d18a79b"     # row 9
SELF_CONV_KEY = "e1c964d44013e8486e9182bd6fc31b103ab0b92d7a149f1c136047cce84ea136"   # row 10
ALICE_BOB_CONV_KEY = "768b9c2f7719fa569558fa6d9b2b6b99315dbe9e1c0bd95f33a11bf3ce4db83a"  # 11
LEGACY_PUBKEY = "27199d5878869ec3b4ae1ad5c2fed88840218a119f9ce892828b950fc96b4829"   # row 12
CORE_SECRET = "110e43647eae221ab1da33ddc17fd6ff423f2b2f49d809b9ffa40794a2ab996c"     # row 13
CORE_PUBKEY = "5e60b6a7ca30e1b7e3e529a24ccc11314ab235a158b4e6cf8a0cdacd5003aea2"
CORE_UUID = "308e1272-d5f4-47e6-bd97-3504baea9c23"                                   # row 14


def test_rows_1_to_4_trade_keys_give_the_published_pubkeys():
    alice, bob = Keys.parse(ALICE_SECRET), Keys.parse(BOB_SECRET)
    assert alice.public_key().to_hex() == ALICE_PUBKEY
    assert alice.public_key().to_bech32() == ALICE_NPUB
    assert bob.public_key().to_hex() == BOB_PUBKEY


def test_row_5_shared_x_is_the_same_from_both_sides():
    assert ecdh_x(ALICE_SECRET, BOB_PUBKEY).hex() == SHARED_X
    assert ecdh_x(BOB_SECRET, ALICE_PUBKEY).hex() == SHARED_X


def test_rows_6_to_9_chat_keys_match_from_either_side():
    from_alice = derive_chat_keys(ALICE_SECRET, BOB_PUBKEY)
    from_bob = derive_chat_keys(BOB_SECRET, ALICE_PUBKEY)
    assert from_alice == from_bob
    assert from_alice.shared_x == SHARED_X
    assert from_alice.conv_pubkey == CONV_PUBKEY
    assert from_alice.sign_pubkey == SIGN_PUBKEY
    assert from_alice.conv_secret == CONV_SECRET
    assert from_alice.sign_secret == SIGN_SECRET
    # and nostr-sdk agrees that those secrets own those pubkeys
    assert Keys.parse(CONV_SECRET).public_key().to_hex() == CONV_PUBKEY
    assert Keys.parse(SIGN_SECRET).public_key().to_hex() == SIGN_PUBKEY


def test_row_10_self_channel_key_decrypts_nostr_sdks_ciphertext():
    # Given a message nostr-sdk encrypts from K_conv to itself
    conv = Keys.parse(CONV_SECRET)
    payload = nip44_encrypt(conv.secret_key(), conv.public_key(), "hola árbitro", Nip44Version.V2)
    # Then the published conversation key, used by an independent NIP-44, opens it
    assert nip44_ref.conversation_key(ecdh_x(CONV_SECRET, CONV_PUBKEY)).hex() == SELF_CONV_KEY
    assert nip44_ref.decrypt(bytes.fromhex(SELF_CONV_KEY), payload) == "hola árbitro"


def test_row_11_alice_bob_conversation_key_decrypts_both_directions():
    alice, bob = Keys.parse(ALICE_SECRET), Keys.parse(BOB_SECRET)
    to_bob = nip44_encrypt(alice.secret_key(), bob.public_key(), "a→b", Nip44Version.V2)
    to_alice = nip44_encrypt(bob.secret_key(), alice.public_key(), "b→a", Nip44Version.V2)
    key = bytes.fromhex(ALICE_BOB_CONV_KEY)
    assert hmac.new(b"nip44-v2", bytes.fromhex(SHARED_X), hashlib.sha256).hexdigest() \
        == ALICE_BOB_CONV_KEY
    assert nip44_ref.decrypt(key, to_bob) == "a→b"
    assert nip44_ref.decrypt(key, to_alice) == "b→a"


def test_row_12_legacy_shared_key_pubkey():
    assert legacy_address(derive_chat_keys(ALICE_SECRET, BOB_PUBKEY)) == LEGACY_PUBKEY
    assert Keys(SecretKey.parse(SHARED_X)).public_key().to_hex() == LEGACY_PUBKEY


def test_row_13_core_trade_key_pubkey():
    assert Keys.parse(CORE_SECRET).public_key().to_hex() == CORE_PUBKEY


def test_row_14_core_uuid_serialises_in_a_take_request():
    msg = take_dispute_request(CORE_UUID, request_id=42)
    assert msg.to_json() == (
        '{"dispute":{"version":2,"request_id":42,"trade_index":null,'
        '"id":"308e1272-d5f4-47e6-bd97-3504baea9c23","action":"admin-take-dispute",'
        '"payload":null}}')


def test_chat_envelope_with_vector_keys_opens_with_nostr_sdk_alone():
    # Given Alice writes to Bob in their conversation
    keys = derive_chat_keys(ALICE_SECRET, BOB_PUBKEY)
    outer = chat.build_message(Keys.parse(ALICE_SECRET), keys, "hi Bob", now=1_790_000_000)
    # Then nostr-sdk verifies it, and Bob's K_conv decrypts the inner event with nostr-sdk
    assert outer.verify()
    assert outer.author().to_hex() == SIGN_PUBKEY
    assert [t.to_vec() for t in outer.tags()] == [["p", CONV_PUBKEY]]
    bob_side = derive_chat_keys(BOB_SECRET, ALICE_PUBKEY)
    inner_json = nip44_decrypt(SecretKey.parse(bob_side.conv_secret),
                               PublicKey.parse(bob_side.conv_pubkey), outer.content())
    assert '"content":"hi Bob"' in inner_json
    assert nip44_ref.decrypt(bytes.fromhex(SELF_CONV_KEY), outer.content()) == inner_json


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_any_two_keys_derive_the_same_chat_keys_from_either_side(a, b):
    try:
        ka, kb = Keys(SecretKey.from_bytes(a)), Keys(SecretKey.from_bytes(b))
    except Exception:  # not a valid scalar: nothing to derive
        return
    from_a = derive_chat_keys(ka.secret_key().to_hex(), kb.public_key().to_hex())
    from_b = derive_chat_keys(kb.secret_key().to_hex(), ka.public_key().to_hex())
    assert from_a == from_b
    assert Keys.parse(from_a.conv_secret).public_key().to_hex() == from_a.conv_pubkey


def test_hkdf_counter_retry_appends_one_byte_when_the_output_is_not_a_valid_key(monkeypatch):
    # Given HKDF whose first output is the group order (not a valid secret)
    calls = []
    real = chat.hkdf_sha256

    def fake(ikm, info, length=32):
        calls.append(info)
        if info == chat.CONV_INFO:
            return chat.SECP256K1_N.to_bytes(32, "big")
        return real(ikm, info, length)

    monkeypatch.setattr(chat, "hkdf_sha256", fake)
    secret = chat.derive_secret(bytes.fromhex(SHARED_X), chat.CONV_INFO)
    # Then the retry uses info ‖ 0x01
    assert calls == [chat.CONV_INFO, chat.CONV_INFO + b"\x01"]
    assert secret == real(bytes.fromhex(SHARED_X), chat.CONV_INFO + b"\x01")
