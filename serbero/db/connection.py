"""Opening the database named by a URL: SQLite in WAL mode with a busy timeout and IMMEDIATE
transactions, or PostgreSQL, with the same models and queries on both."""

from __future__ import annotations

import time

from peewee import Database, DatabaseProxy, OperationalError, SqliteDatabase
from playhouse.db_url import connect

#: Every model binds to this proxy; `open_database` points it at the real database.
database = DatabaseProxy()

#: How long an SQLite writer waits for the lock before failing, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Applied to every new connection. The busy timeout comes first so that the others wait for
#: a lock instead of failing; WAL mode is persistent and set once by `open_database`.
SQLITE_PRAGMAS = {
    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    "synchronous": "normal",
    "foreign_keys": 1,
}
#: Attempts to switch a new database file to WAL while other processes hold it open.
WAL_ATTEMPTS = 50


def open_database(url: str, *, bind: bool = True) -> Database:
    """Connect lazily (one connection per thread, as peewee does) and bind the models.

    SQLite transactions start with BEGIN IMMEDIATE: a transaction that reads before it writes
    would otherwise fail with "database is locked" when another process writes first.
    """
    if url.startswith("sqlite:"):
        db = connect(url, pragmas=SQLITE_PRAGMAS, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                     lock_type="IMMEDIATE")
        _use_wal(db)
    else:
        db = connect(url)
    if bind:
        database.initialize(db)
    return db


def _use_wal(db: Database) -> None:
    """Switch the file to WAL (readers never block the writer). The switch needs a moment with
    no other connection writing, which the busy handler does not wait for, hence the retries."""
    for attempt in range(WAL_ATTEMPTS):
        try:
            db.execute_sql("PRAGMA journal_mode=wal")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


def is_sqlite(db: Database) -> bool:
    return isinstance(db, SqliteDatabase)
