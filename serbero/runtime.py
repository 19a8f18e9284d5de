"""A process's long-lived resources (settings, signing keys, database, relay bridge), built once
by the composition root and handed to the functions that need them."""

from __future__ import annotations

from dataclasses import dataclass

from nostr_sdk import Keys
from peewee import Database

from serbero.config import Settings
from serbero.db import migrate
from serbero.db.access import open_checked
from serbero.nostr.relays import RelayBridge


@dataclass
class Runtime:
    settings: Settings
    signer: Keys
    db: Database
    relay: RelayBridge

    @classmethod
    def open(cls, settings: Settings, *, relay: RelayBridge | None = None) -> Runtime:
        """Open the database (applying migrations) and prepare, lazily, the relay bridge; a
        database that cannot be used raises DatabaseError, naming it and the fix."""
        db = open_checked(settings.db_url)
        migrate(db)
        return cls(settings=settings, signer=Keys.parse(settings.private_key.reveal()), db=db,
                   relay=relay or RelayBridge(settings.relays))

    def close(self) -> None:
        self.relay.close()
        self.db.close()
