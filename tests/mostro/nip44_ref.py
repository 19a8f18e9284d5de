"""An independent, pure-Python NIP-44 v2 decryption (ChaCha20 + HMAC-SHA256), written from the
NIP so tests can check nostr-sdk's ciphertexts against the protocol's conversation-key vectors
without trusting the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct


def _rotl(v: int, c: int) -> int:
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def _quarter(s: list[int], a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF
    s[b] = _rotl(s[b] ^ s[c], 7)


def _block(key: bytes, counter: int, nonce: bytes) -> bytes:
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574,
             *struct.unpack("<8I", key), counter, *struct.unpack("<3I", nonce)]
    work = list(state)
    for _ in range(10):
        _quarter(work, 0, 4, 8, 12)
        _quarter(work, 1, 5, 9, 13)
        _quarter(work, 2, 6, 10, 14)
        _quarter(work, 3, 7, 11, 15)
        _quarter(work, 0, 5, 10, 15)
        _quarter(work, 1, 6, 11, 12)
        _quarter(work, 2, 7, 8, 13)
        _quarter(work, 3, 4, 9, 14)
    return struct.pack("<16I", *((w + s) & 0xFFFFFFFF for w, s in zip(work, state, strict=True)))


def chacha20(key: bytes, nonce: bytes, data: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(data), 64):
        stream = _block(key, i // 64, nonce)
        out += bytes(x ^ y for x, y in zip(data[i:i + 64], stream, strict=False))
    return bytes(out)


def conversation_key(shared_x: bytes) -> bytes:
    return hmac.new(b"nip44-v2", shared_x, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + block, i + 1
    return out[:length]


def decrypt(conv_key: bytes, payload: str) -> str:
    raw = base64.b64decode(payload)
    assert raw[0] == 2, "NIP-44 version 2"
    nonce, ciphertext, mac = raw[1:33], raw[33:-32], raw[-32:]
    keys = _expand(conv_key, nonce, 76)
    expected = hmac.new(keys[44:76], nonce + ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise ValueError("invalid MAC")
    padded = chacha20(keys[0:32], keys[32:44], ciphertext)
    length = int.from_bytes(padded[:2], "big")
    return padded[2:2 + length].decode("utf-8")
