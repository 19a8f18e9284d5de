"""Migrations: idempotent, concurrent-safe, identical on SQLite and PostgreSQL."""

import threading

import pytest

from serbero.config import sqlite_url
from serbero.db import migrate, open_database
from serbero.db.migrations import available, current_version


def test_migrating_twice_applies_nothing_the_second_time(tmp_path):
    db = open_database(sqlite_url(tmp_path / "m.db"), bind=False)
    assert migrate(db) == [v for v, _ in available()]
    assert migrate(db) == []
    assert current_version(db) == available()[-1][0]


def test_processes_starting_together_migrate_once(tmp_path):
    url = sqlite_url(tmp_path / "race.db")
    results, errors = [], []

    def run():
        try:
            results.append(migrate(open_database(url, bind=False)))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    applied = [v for r in results for v in r]
    assert sorted(applied) == [v for v, _ in available()]


@pytest.mark.postgres
def test_the_schema_is_the_same_on_postgres(pg_db, db):
    assert set(pg_db.get_tables()) == set(db.get_tables()) - {"sqlite_sequence"}
    assert migrate(pg_db) == []


def test_a_migration_that_lands_after_a_higher_one_still_runs(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from serbero.db import migrations

    def step(name):
        return SimpleNamespace(__name__=name, STATEMENTS=[f"CREATE TABLE {name} (id {{pk}})"])

    db = open_database(sqlite_url(tmp_path / "late.db"), bind=False)
    monkeypatch.setattr(migrations, "available", lambda: [(1, step("a")), (3, step("c"))])
    assert migrate(db) == [1, 3]
    # a branch merged later brings version 2
    monkeypatch.setattr(migrations, "available",
                        lambda: [(1, step("a")), (2, step("b")), (3, step("c"))])
    assert migrate(db) == [2]
    assert {"a", "b", "c"} <= set(db.get_tables())
    assert migrate(db) == []
