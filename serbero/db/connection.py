"""Opening the database named by a URL: SQLite in WAL mode with a busy timeout and IMMEDIATE
transactions, or PostgreSQL, with the same models and queries on both."""

from __future__ import annotations

from peewee import Database, DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect

#: Every model binds to this proxy; `open_database` points it at the real database.
database = DatabaseProxy()

#: How long an SQLite writer waits for the lock before failing, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    "synchronous": "normal",
    "foreign_keys": 1,
}


def open_database(url: str, *, bind: bool = True) -> Database:
    """Connect lazily (one connection per thread, as peewee does) and bind the models.

    SQLite transactions start with BEGIN IMMEDIATE: a transaction that reads before it writes
    would otherwise fail with "database is locked" when another process writes first.
    """
    if url.startswith("sqlite:"):
        db = connect(url, pragmas=SQLITE_PRAGMAS, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                     lock_type="IMMEDIATE")
    else:
        db = connect(url)
    if bind:
        database.initialize(db)
    return db


def is_sqlite(db: Database) -> bool:
    return isinstance(db, SqliteDatabase)
