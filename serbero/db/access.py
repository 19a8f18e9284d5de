"""Opening the deployment's database so that what stops it is said once, clearly: a directory
that does not exist or is not writable, a server that does not answer, a database that does not
exist, a schema this Serbero did not write. peewee's and the drivers' errors stop here and
become a DatabaseError naming the database (without password) and the fix (issue 10).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from peewee import Database, SqliteDatabase
from peewee import DatabaseError as PeeweeDatabaseError

from serbero.config import redact_url
from serbero.db.connection import open_database
from serbero.db.migrations import foreign_schema
from serbero.errors import DatabaseError

WHERE = "[serbero].db_path or SERBERO_DB_URL"


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for other databases and in-memory ones."""
    if not url.startswith("sqlite:"):
        return None
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def _sqlite_problem(path: Path) -> str | None:
    """Why the SQLite file cannot be opened for writing (or created), if it can be told first."""
    if path.exists():
        if path.is_dir():
            return f"{path} is a directory; name a file in it in {WHERE}"
        if not os.access(path, os.R_OK | os.W_OK):
            return (f"{path} is not readable and writable by this user; fix its permissions "
                    f"or set {WHERE} to another file")
        return None
    parent = path.parent
    if not parent.is_dir():
        return (f"the directory {parent} does not exist; create it (mkdir -p {parent}) or "
                f"set {WHERE} to a file in an existing directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"the directory {parent} is not writable by this user, so {path.name} cannot "
                f"be created there; fix its permissions or set {WHERE} elsewhere")
    return None


def _explain(url: str, exc: Exception) -> str:
    """A driver's connection error as what happened and what to do."""
    detail = " ".join(str(exc).split())
    if detail.startswith("connection failed: "):
        detail = detail[len("connection failed: "):]
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return (f"cannot create {path.name} in {path.parent} ({detail}); check that the "
                f"directory is writable by this user, or set {WHERE} elsewhere")
    if path is not None:
        return f"cannot open it ({detail}); check the file, or set {WHERE} to another one"
    if "does not exist" in detail and "database" in detail:
        return f"{detail}; create it (createdb) or fix the database name in SERBERO_DB_URL"
    if "password authentication failed" in detail or "no password supplied" in detail:
        return f"{detail}; fix the user or password in SERBERO_DB_URL"
    if any(word in detail for word in ("Connection refused", "timeout expired", "could not",
                                       "No route to host", "Name or service not known")):
        return (f"the server does not answer ({detail}); start PostgreSQL, or fix the host and "
                "port in SERBERO_DB_URL")
    return f"cannot connect ({detail}); check SERBERO_DB_URL"


def open_checked(url: str, *, create: bool = True) -> Database:
    """Open and bind the database at `url` (connecting now, so that a problem shows at once);
    with `create=False` an SQLite file that does not exist yet is an error too. Raises
    DatabaseError; writes nothing (migrations are the caller's next step)."""
    where = redact_url(url)
    path = sqlite_path(url)
    if path is not None:
        if not create and path.parent.is_dir() and not path.exists():
            raise DatabaseError(f"{where}: no database at {path}; check {WHERE} (or start "
                                "Serbero, or run `serbero migrate`, to create it)")
        problem = _sqlite_problem(path)
        if problem:
            raise DatabaseError(f"{where}: {problem}")
    try:
        if path is not None and path.exists():
            reader = SqliteDatabase(f"file:{quote(str(path))}?mode=ro", uri=True)
            try:
                _refuse_foreign(where, reader)
            finally:
                reader.close()
        db = open_database(url)  # switches an SQLite file to WAL: a write, so it comes second
        db.connect(reuse_if_open=True)
        if path is None:
            _refuse_foreign(where, db)
    except PeeweeDatabaseError as exc:
        raise DatabaseError(f"{where}: {_explain(url, exc)}") from None
    return db


def _refuse_foreign(where: str, db: Database) -> None:
    """Raise DatabaseError when `db` holds a schema this Serbero did not write."""
    found = foreign_schema(db)
    if found:
        raise DatabaseError(f"{where}: {found}")


def check(url: str) -> str | None:
    """Whether the database answers and holds nothing foreign, without creating an SQLite file
    (a fresh deployment has none yet): None, or the problem."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        problem = _sqlite_problem(path)
        return f"{redact_url(url)}: {problem}" if problem else None
    try:
        db = open_checked(url, create=False)
    except DatabaseError as exc:
        return str(exc)
    db.close()
    return None
