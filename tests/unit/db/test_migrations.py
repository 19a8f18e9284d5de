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


@pytest.fixture
def blank_db(backend, tmp_path):
    """An empty database, not migrated: an SQLite file, or a PostgreSQL schema of its own."""
    from tests.conftest import pg_schema

    if backend == "sqlite":
        database = open_database(sqlite_url(tmp_path / "blank.db"), bind=False)
        yield database
        database.close()
        return
    with pg_schema() as url:
        database = open_database(url, bind=False)
        yield database
        database.close()


def test_a_database_of_main_before_the_channels_merge_upgrades_with_its_rows(blank_db,
                                                                             monkeypatch):
    # Given a deployment migrated by main before issue 11 was merged: versions 1-3 and 5 (the
    # reasoning tables), an outbox row in the old column names and a provider's health
    from serbero.db import migrations
    from serbero.db.models import Outbox
    from serbero.reasoning.models import ProviderHealth

    every = available()
    monkeypatch.setattr(migrations, "available",
                        lambda: [m for m in every if m[0] in (1, 2, 3, 5)])
    assert migrate(blank_db) == [1, 2, 3, 5]
    p = blank_db.param
    blank_db.execute_sql(
        "INSERT INTO outbox (kind, purpose, recipient, event_id, event_json, created_at, "
        f"next_attempt_at, relays) VALUES ({', '.join([p] * 8)})",
        ("solver_dm", "initial", "ab" * 32, "e1" * 32, '{"id":"e1"}', 10, 25, '["ws://r"]'))
    blank_db.execute_sql(
        "INSERT INTO reasoning_health (provider_key, provider, model, status, checked_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p})", ("k", "openai", "m", "ok", 10))
    # When the merged version starts (v4 lands after v5)
    monkeypatch.setattr(migrations, "available", lambda: [m for m in every if m[0] <= 5])
    assert migrate(blank_db) == [4]
    # (and the later versions, whose columns today's models read: v0007's outbox.requeued_at)
    monkeypatch.setattr(migrations, "available", lambda: every)
    assert 4 not in migrate(blank_db)
    # Then the row reads in the new names, as a nostr row, and the reasoning tables are intact
    with blank_db.bind_ctx([Outbox, ProviderHealth]):
        row = Outbox.get()
        assert (row.channel, row.purpose, row.notice_type, row.message_id, row.body,
                row.accepted_by) == ("nostr", "solver_dm", "initial", "e1" * 32, '{"id":"e1"}',
                                     '["ws://r"]')
        assert ProviderHealth.get().status == "ok"
    assert migrate(blank_db) == []


def test_a_database_of_issue_11_before_the_reasoning_merge_gains_the_reasoning_tables(
        blank_db, monkeypatch):
    from serbero.db import migrations

    every = available()
    monkeypatch.setattr(migrations, "available", lambda: [m for m in every if m[0] <= 4])
    assert migrate(blank_db) == [1, 2, 3, 4]
    monkeypatch.setattr(migrations, "available", lambda: [m for m in every if m[0] <= 5])
    assert migrate(blank_db) == [5]
    assert {"reasoning_calls", "reasoning_health", "wanted_subscriptions"} <= \
        set(blank_db.get_tables())


def test_a_deployment_at_version_8_gets_the_web_views_version_7(backend, db):
    # issue 9: v0007 (web view indexes, outbox.requeued_at) lands after v0008 was applied
    from serbero.db import migrations
    from serbero.db.models import Outbox

    db.execute_sql("DELETE FROM schema_version WHERE version = 7")
    for statement in ("DROP INDEX idx_disputes_detected", "DROP INDEX idx_disputes_assigned",
                      "DROP INDEX idx_state_transitions_to_state",
                      "DROP INDEX idx_outbox_status_dispute",
                      "ALTER TABLE outbox DROP COLUMN requeued_at"):
        db.execute_sql(statement)
    db.execute_sql("INSERT INTO outbox (channel, purpose, recipient, message_id, body, status, "
                   "attempts, created_at, next_attempt_at) VALUES "
                   "('nostr', 'solver_dm', 'r', 'm', '{}', 'failed', 9, 1, 1)")
    assert migrations.migrate(db) == [7]
    row = Outbox.get(Outbox.message_id == "m")
    assert (row.status, row.requeued_at) == ("failed", None)
