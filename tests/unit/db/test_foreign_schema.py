"""A database holding the Rust Serbero's schema is recognised and refused, on SQLite and on
PostgreSQL, without a single write (issue 10, defect 4: its schema_version rows 1 to 5 read as
this project's versions 1 to 3, so no table was created and the first write failed)."""

import hashlib

import pytest
from nostr_sdk import Keys
from peewee import SqliteDatabase

from serbero.db import migrate, open_database
from serbero.db.access import open_checked
from serbero.errors import DatabaseError
from tests.conftest import pg_schema, run_serbero
from tests.unit.db import rust_schema

REFUSAL = "holds the Rust Serbero's schema (schema_version 1-5), not this Serbero's; nothing " \
          "was written to it. Point [serbero].db_path or SERBERO_DB_URL at a fresh database"


def rust_file(path, version=5):
    db = open_database(f"sqlite:///{path}", bind=False)
    db.execute_sql("PRAGMA journal_mode=delete")  # so any later write would show in the file
    rust_schema.create(db, "sqlite", version)
    db.close()
    return path


@pytest.fixture
def rust_sqlite(tmp_path):
    return rust_file(tmp_path / "rust-serbero.db")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_migrating_a_rust_serbero_sqlite_file_is_refused_and_writes_nothing(rust_sqlite):
    before = digest(rust_sqlite)
    with pytest.raises(DatabaseError, match=r"Rust Serbero's schema \(schema_version 1-5\)"):
        open_checked(f"sqlite:///{rust_sqlite}")
    db = SqliteDatabase(f"file:{rust_sqlite}?mode=ro", uri=True)  # reads only, whatever runs
    with pytest.raises(DatabaseError, match="Rust Serbero's schema"):
        migrate(db)
    db.close()
    assert digest(rust_sqlite) == before
    assert not rust_sqlite.with_name(rust_sqlite.name + "-wal").exists()


def test_an_early_rust_serbero_database_is_recognised_too(tmp_path):
    # its version 2: disputes, notifications and transitions, no mediation tables yet
    path = rust_file(tmp_path / "rust-v2.db", version=2)
    with pytest.raises(DatabaseError, match=r"Rust Serbero's schema \(schema_version 1-2\)"):
        open_checked(f"sqlite:///{path}")


@pytest.mark.postgres
def test_a_rust_serbero_postgres_schema_is_refused_and_gains_no_table():
    with pg_schema() as url:
        db = open_database(url, bind=False)
        rust_schema.create(db, "postgres")
        tables = sorted(db.get_tables())
        with pytest.raises(DatabaseError, match=r"Rust Serbero's schema \(schema_version 1-5\)"):
            open_checked(url)
        with pytest.raises(DatabaseError, match="Rust Serbero's schema"):
            migrate(db)
        assert sorted(db.get_tables()) == tables
        assert [v for (v,) in db.execute_sql("SELECT version FROM schema_version")] == \
            [1, 2, 3, 4, 5]
        db.close()


def test_serbero_run_on_a_rust_serbero_database_says_so_in_one_line(rust_sqlite, tmp_path):
    # Given an operator who points the new daemon at the Rust daemon's database
    config = tmp_path / "config.toml"
    config.write_text(f'[serbero]\nprivate_key = "{Keys.generate().secret_key().to_hex()}"\n'
                      f'db_path = "{rust_sqlite}"\n'
                      f'[mostro]\npubkey = "{Keys.generate().public_key().to_hex()}"\n'
                      '[[relays]]\nurl = "ws://127.0.0.1:9"\n'
                      f'[[solvers]]\npubkey = "{Keys.generate().public_key().to_hex()}"\n')
    config.chmod(0o600)
    before = digest(rust_sqlite)
    # When it starts
    done = run_serbero("run", "-c", str(config))
    # Then it refuses with one clear line, and the file is untouched
    assert done.returncode == 1
    assert done.stderr == f"database error: sqlite:///{rust_sqlite}: {REFUSAL} (the Rust " \
                          "daemon can keep using this one)\n"
    assert digest(rust_sqlite) == before
