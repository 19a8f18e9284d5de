"""The `webhook` channel: a stored JSON notice POSTed to an operator's endpoint (Slack, Matrix,
ntfy, an incident tool), signed with HMAC-SHA256 when the webhook has a secret.

Every retry POSTs the same body with the same `Idempotency-Key`, so a receiver that saw a
notice once can drop the repeats. 2xx is delivered; 5xx, 408, 429, timeouts and connection
errors are retried by the outbox with back-off; any other 4xx, and any redirect (never followed:
a POST must not wander to another address with its signature), is permanent. Logs name the
webhook, never its URL, which may hold a token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from serbero import __version__
from serbero.config import WebhookEntry
from serbero.db.models import Outbox
from serbero.errors import PublishError
from serbero.outbox.channels import Delivered

if TYPE_CHECKING:  # imported at the first POST: a daemon without webhooks never loads it
    import httpx

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Serbero-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Client errors a later attempt may get past: the server timed out, or asked us to slow down.
TRANSIENT_4XX = frozenset({408, 425, 429})


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def classify(status_code: int, name: str) -> Delivered | PublishError:
    """What an HTTP answer means for the notice."""
    if 200 <= status_code < 300:
        return Delivered((name,))
    if 300 <= status_code < 400:
        return PublishError(f"webhook {name} answered {status_code} (a redirect, not followed); "
                            "set its url to the final address", permanent=True)
    if status_code >= 500 or status_code in TRANSIENT_4XX:
        return PublishError(f"webhook {name} answered {status_code}", permanent=False)
    return PublishError(f"webhook {name} answered {status_code}", permanent=True)


class WebhookChannel:
    """POSTs rows to the configured webhooks; a row's recipient is its webhook's name.
    `webhooks` gives the configured ones at the moment of sending."""

    def __init__(self, webhooks: Callable[[], Sequence[WebhookEntry]]) -> None:
        self.webhooks = webhooks
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(follow_redirects=False, headers={
                    "User-Agent": f"serbero/{__version__}",
                    "Content-Type": "application/json"})
            return self._client

    def deliver(self, rows: Sequence[Outbox], *,
                signed: Mapping[str, Any]) -> list[Delivered | PublishError]:
        return [self._post(row) for row in rows]

    def _post(self, row: Outbox) -> Delivered | PublishError:
        webhook = next((w for w in self.webhooks() if w.name == row.recipient), None)
        if webhook is None:
            return PublishError(f"webhook {row.recipient} is no longer configured",
                                permanent=True)
        import httpx

        body = row.body.encode("utf-8")
        headers = {IDEMPOTENCY_HEADER: row.message_id}
        if webhook.secret is not None:
            headers[SIGNATURE_HEADER] = signature(webhook.secret.reveal(), body)
        try:
            # Streamed and closed unread: only the status matters, and a hostile endpoint must
            # not make Serbero hold a large answer in memory.
            with self._http().stream("POST", webhook.url, content=body, headers=headers,
                                     timeout=webhook.timeout_seconds) as answer:
                status_code = answer.status_code
        except httpx.TimeoutException:
            return PublishError(f"webhook {webhook.name} timed out after "
                                f"{webhook.timeout_seconds:g}s", permanent=False)
        except httpx.HTTPError as exc:
            return PublishError(f"webhook {webhook.name} unreachable: {type(exc).__name__}",
                                permanent=False)
        log.info("webhook_answered", extra={"webhook": webhook.name, "outbox_id": row.id,
                                            "status_code": status_code})
        return classify(status_code, webhook.name)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
