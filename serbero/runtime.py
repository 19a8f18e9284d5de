"""A process's long-lived resources (settings, signing keys, database, relay bridge, the outbox's
channels), built once by the composition root and handed to the functions that need them."""

from __future__ import annotations

from dataclasses import dataclass, field

from nostr_sdk import Keys
from peewee import Database

from serbero.config import Settings
from serbero.db import migrate
from serbero.db.access import open_checked
from serbero.nostr.relays import RelayBridge
from serbero.outbox import NOSTR, WEBHOOK
from serbero.outbox.channels import Channel
from serbero.outbox.nostr import NostrChannel
from serbero.outbox.webhook import WebhookChannel


@dataclass
class Runtime:
    settings: Settings
    signer: Keys
    db: Database
    relay: RelayBridge
    channels: dict[str, Channel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The webhook channel reads the webhooks of the moment: settings may be replaced.
        self.channels.setdefault(NOSTR, NostrChannel(self.relay))
        self.channels.setdefault(WEBHOOK, WebhookChannel(lambda: self.settings.webhooks))

    @classmethod
    def open(cls, settings: Settings, *, relay: RelayBridge | None = None) -> Runtime:
        """Open the database (applying migrations) and prepare, lazily, the relay bridge; a
        database that cannot be used raises DatabaseError, naming it and the fix."""
        db = open_checked(settings.db_url)
        migrate(db)
        return cls(settings=settings, signer=Keys.parse(settings.private_key.reveal()), db=db,
                   relay=relay or RelayBridge(settings.relays))

    def close(self) -> None:
        webhook = self.channels.get(WEBHOOK)
        if isinstance(webhook, WebhookChannel):
            webhook.close()
        self.relay.close()
        self.db.close()
