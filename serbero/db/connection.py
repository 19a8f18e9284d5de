"""Opening the database named by a URL: SQLite in WAL mode with a busy timeout and IMMEDIATE
transactions, or PostgreSQL, with the same models and queries on both."""

from __future__ import annotations

import threading
import time
from typing import Any

from peewee import Database, DatabaseProxy, OperationalError, SqliteDatabase
from playhouse.db_url import connect, parse

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
        db = OneWriterSqliteDatabase(parse(url)["database"], pragmas=SQLITE_PRAGMAS,
                                     timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, lock_type="IMMEDIATE")
        _use_wal(db)
    else:
        db = connect(url)
    if bind:
        database.initialize(db)
    return db


class OneWriterSqliteDatabase(SqliteDatabase):
    """SQLite whose write transactions queue on a lock in this process before BEGIN IMMEDIATE.

    SQLite has one writer at a time. Threads that find the write lock taken wait in SQLite's
    busy handler, which sleeps in growing steps up to 100 ms, so a waiting thread can sleep long
    after the lock is free; a Python lock hands it over at once. Other processes still meet
    the busy handler, but only one thread per process does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer = threading.Lock()

    def begin(self, lock_type: str | None = None) -> None:
        self._writer.acquire()
        try:
            super().begin(lock_type)
        except BaseException:
            self._writer.release()
            raise
        self._state.holds_writer = True

    def commit(self) -> Any:
        result = super().commit()
        self._release_writer()
        return result

    def rollback(self) -> Any:
        try:
            return super().rollback()
        finally:
            self._release_writer()

    def _release_writer(self) -> None:
        if getattr(self._state, "holds_writer", False):
            self._state.holds_writer = False
            self._writer.release()


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
