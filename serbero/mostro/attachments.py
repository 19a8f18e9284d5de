"""Chat attachments: recognising the JSON that Mostro mobile and mostrix send as the text of an
inner chat event when a party shares an image or a file (a Blossom URL plus how the blob was
encrypted). Serbero records them as attachments, never as text, and never downloads or decrypts
the blob (it is sealed with the raw ECDH secret, which Serbero does not hand on)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TYPES = ("image_encrypted", "file_encrypted")
#: Attachment descriptors are small; a larger text is a message, whatever it contains.
MAX_DESCRIPTOR_CHARS = 8192


@dataclass(frozen=True)
class Attachment:
    type: str
    blossom_url: str
    mime_type: str | None
    filename: str | None
    original_size: int | None
    encrypted_size: int | None
    nonce: str | None


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value[:512] if isinstance(value, str) else None


def _size(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def recognise(content: str) -> Attachment | None:
    """The attachment a chat text describes, or None when it is an ordinary message."""
    if not isinstance(content, str) or len(content) > MAX_DESCRIPTOR_CHARS \
            or not content.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or obj.get("type") not in TYPES:
        return None
    url = obj.get("blossom_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    return Attachment(type=obj["type"], blossom_url=url[:2048],
                      mime_type=_text(obj, "mime_type"), filename=_text(obj, "filename"),
                      original_size=_size(obj, "original_size"),
                      encrypted_size=_size(obj, "encrypted_size"), nonce=_text(obj, "nonce"))
