"""Forward-only, versioned schema migrations, safe when several processes start at once.

Each migration is a module `vNNNN_<name>.py` with a `STATEMENTS` list of SQL written once and
never edited (a later change is a new version). `{pk}` stands for an auto-increment primary key,
the only spelling that differs between SQLite and PostgreSQL.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from types import ModuleType

from peewee import Database

from serbero.clock import now
from serbero.db.connection import is_sqlite
from serbero.errors import DatabaseError

log = logging.getLogger(__name__)

#: Any constant: the PostgreSQL advisory lock that serialises concurrent migrators.
PG_MIGRATION_LOCK = 0x5E4BE40

DIALECT = {
    "sqlite": {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgres": {"pk": "BIGSERIAL PRIMARY KEY"},
}


def available() -> list[tuple[int, ModuleType]]:
    """All migration modules of this package, ordered by version."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("v") and info.name[1:5].isdigit():
            found.append((int(info.name[1:5]), importlib.import_module(f"{__name__}.{info.name}")))
    return sorted(found, key=lambda item: item[0])


def applied_versions(db: Database) -> set[int]:
    if "schema_version" not in db.get_tables():
        return set()
    return {v for (v,) in db.execute_sql("SELECT version FROM schema_version").fetchall()}


def current_version(db: Database) -> int:
    return max(applied_versions(db), default=0)


#: Columns of this project's `schema_version`; the Rust Serbero's has `version` only (DB-2).
OUR_VERSION_COLUMNS = frozenset({"version", "applied_at"})
#: Tables of the Rust Serbero's schema (its v3); this project's has some of the same names
#: (v0005, v0008), but only a database whose `schema_version` is not this project's is
#: looked at for them.
RUST_ONLY_TABLES = frozenset({"mediation_sessions", "mediation_messages",
                              "reasoning_rationales", "mediation_summaries"})


def foreign_schema(db: Database) -> str | None:
    """What foreign schema the database holds, with the fix, or None when it is empty or this
    project's. The Rust Serbero's `schema_version` rows 1 to 5 would otherwise read as this
    project's versions 1 to 3 applied, and the first write would fail (issue 10, defect 4)."""
    if "schema_version" not in db.get_tables():
        return None
    columns = {c.name for c in db.get_columns("schema_version")}
    if columns >= OUR_VERSION_COLUMNS:
        return None
    versions = sorted(applied_versions(db))
    span = f"{versions[0]}-{versions[-1]}" if len(versions) > 1 else "".join(map(str, versions))
    whose = ("the Rust Serbero's schema" if _looks_rust(db)
             else "a schema_version table this Serbero did not write")
    return (f"holds {whose} (schema_version {span or 'empty'}), not this Serbero's; nothing was "
            "written to it. Point [serbero].db_path or SERBERO_DB_URL at a fresh database (the "
            "Rust daemon can keep using this one)")


def _looks_rust(db: Database) -> bool:
    """The Rust Serbero's tables (spec §8.2): its mediation tables (v3 on), or a `disputes`
    table without the revision columns this project's has always had."""
    tables = set(db.get_tables())
    if tables & RUST_ONLY_TABLES:
        return True
    return "disputes" in tables and "status_event_id" not in {
        c.name for c in db.get_columns("disputes")}


def migrate(db: Database) -> list[int]:
    """Apply every migration not yet recorded, in version order, each in its own transaction
    (a lower version that lands after a higher one still runs); return the versions applied.
    Raises DatabaseError, writing nothing, on a database that holds another schema."""
    found = foreign_schema(db)
    if found:
        raise DatabaseError(f"the database {found}")
    dialect = DIALECT["sqlite" if is_sqlite(db) else "postgres"]
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT)"
    )
    applied = []
    for version, module in available():
        with db.atomic():
            if not is_sqlite(db):
                db.execute_sql(f"SELECT pg_advisory_xact_lock({db.param})", (PG_MIGRATION_LOCK,))
            if version in applied_versions(db):
                continue  # applied earlier, or by a process that started at the same time
            for statement in module.STATEMENTS:
                db.execute_sql(statement.format(**dialect))
            insert = "INSERT INTO schema_version (version, applied_at) VALUES ({p}, {p})"
            db.execute_sql(insert.format(p=db.param), (version, now()))
        applied.append(version)
        log.info("schema_migrated", extra={"version": version, "migration": module.__name__})
    return applied
