"""Template INSERTs (`serbero.db.bulk`): the same rows as peewee's `insert_many` (defaults and
conversions included), conflicts skipped only when asked, statements split under the
placeholder limit, and malformed rows refused before anything is written. SQLite and
PostgreSQL."""

from __future__ import annotations

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serbero.db import bulk
from serbero.db.connection import database
from serbero.db.models import Dispute, Outbox, ProcessedInput

#: What a stored outbox row holds, without its id (which the two writers number apart).
COLUMNS = [f for f in Outbox._meta.sorted_fields if f.name != "id"]


def outbox_row(n: int, **overrides: object) -> dict[str, object]:
    return {"purpose": "solver_dm", "recipient": f"{n:064x}", "message_id": f"m-{n}",
            "body": '{"id": "…", "content": "it\'s \\"quoted\\""}', "created_at": 1_700_000_000,
            "next_attempt_at": 1_700_000_030, "notice_type": "initial", **overrides}


def stored(message_ids: list[str]) -> list[tuple[object, ...]]:
    by_id = {row[0]: row[1:] for row in Outbox.select(Outbox.message_id, *COLUMNS)
             .where(Outbox.message_id.in_(message_ids)).tuples()}
    return [by_id.get(m) for m in message_ids]


def test_rows_are_stored_as_insert_many_stores_them(backend, db):
    """Defaults (channel, status, attempts) filled, NULLs kept, text byte for byte."""
    ours = [outbox_row(1), outbox_row(2, notice_type=None)]
    peewees = [outbox_row(3), outbox_row(4, notice_type=None)]

    returned = bulk.insert_rows(Outbox, ours, returning=[Outbox.id, Outbox.message_id])
    Outbox.insert_many(peewees).execute()
    bulk.insert_rows(Outbox, [outbox_row(5, channel="webhook", attempts=2)])
    Outbox.insert_many([outbox_row(6, channel="webhook", attempts=2)]).execute()

    assert sorted(m for _, m in returned) == ["m-1", "m-2"]
    assert {Outbox.get_by_id(i).message_id for i, _ in returned} == {"m-1", "m-2"}
    mine, theirs = stored(["m-1", "m-2", "m-5"]), stored(["m-3", "m-4", "m-6"])
    strip = [c for c in COLUMNS if c.name not in ("recipient", "message_id")]
    keep = [COLUMNS.index(c) for c in strip]
    assert [[r[i] for i in keep] for r in mine] == [[r[i] for i in keep] for r in theirs]
    assert Outbox.get(Outbox.message_id == "m-1").status == "pending"


def test_conflicts_are_skipped_only_when_asked(backend, db):
    ProcessedInput.create(key="seen", kind="dispute_event", outcome="detected", processed_at=1)
    rows = [dict(key=k, kind="dispute_event", outcome="detected", processed_at=2)
            for k in ("seen", "new")]

    assert bulk.insert_rows(ProcessedInput, rows, ignore_conflicts=True) == 1
    assert ProcessedInput.get_by_id("seen").processed_at == 1

    more = [dict(key=k, kind="dispute_event", outcome="detected", processed_at=3)
            for k in ("newer", "new")]
    with pytest.raises(peewee.IntegrityError), database.atomic():
        bulk.insert_rows(ProcessedInput, more)
    assert not ProcessedInput.select().where(ProcessedInput.key == "newer").exists()


def test_returning_names_only_the_rows_inserted(backend, db):
    def dispute(dispute_id: str) -> dict[str, object]:
        return dict(dispute_id=dispute_id, event_id=f"e-{dispute_id}", mostro_pubkey="ab" * 32,
                    initiator_role="buyer", dispute_status="initiated", event_timestamp=1,
                    detected_at=1, lifecycle_state="new", status_event_id=f"e-{dispute_id}",
                    status_event_at=1, status_stage=0)

    bulk.insert_rows(Dispute, [dispute("a")])
    assert bulk.insert_rows(Dispute, [dispute(d) for d in ("a", "b", "c")],
                            ignore_conflicts=True, returning=[Dispute.dispute_id]) == [
        ("b",), ("c",)]


def test_a_long_insert_is_split_under_the_placeholder_limit(backend, db, monkeypatch):
    statements: list[str] = []
    execute_sql = type(database.obj).execute_sql

    def counted(self, sql, *args, **kwargs):
        statements.append(sql)
        return execute_sql(self, sql, *args, **kwargs)

    monkeypatch.setattr(type(database.obj), "execute_sql", counted)
    rows = [outbox_row(n) for n in range(300)]
    returned = bulk.insert_rows(Outbox, rows, returning=[Outbox.id, Outbox.message_id])

    columns = len(rows[0]) + sum(1 for f in Outbox._meta.defaults if f.name not in rows[0])
    per_statement = bulk.MAX_PARAMS // columns
    assert len(statements) == -(-300 // per_statement) > 1
    assert all(s.count("?") + s.count("%s") <= bulk.MAX_PARAMS for s in statements)
    assert sorted(m for _, m in returned) == sorted(f"m-{n}" for n in range(300))
    assert Outbox.select().count() == 300
    assert bulk.insert_rows(Outbox, []) == 0 and bulk.insert_rows(Outbox, [], returning=[
        Outbox.id]) == []


@pytest.mark.parametrize("rows", [
    [{"no_such_field": 1}],
    [outbox_row(1), {k: v for k, v in outbox_row(2).items() if k != "body"}],
    [outbox_row(1), {**outbox_row(2), "no_such_field": 1}],
    [outbox_row(1), {**{k: v for k, v in outbox_row(2).items() if k != "body"}, "status": "x"}],
])
def test_malformed_rows_are_refused_before_anything_is_written(backend, db, rows):
    with pytest.raises(ValueError, match="field"):
        bulk.insert_rows(Outbox, rows)
    assert Outbox.select().count() == 0


TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
               max_size=60)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=TEXT, recipient=TEXT, notice_type=st.none() | TEXT,
       created_at=st.integers(-(2**62), 2**62))
def test_any_value_round_trips(backend, db, body, recipient, notice_type, created_at):
    """Quotes, placeholders-lookalikes (`?`, `%s`), SQL fragments and any Unicode are
    values, never statement text."""
    row = outbox_row(0, body=body, recipient=recipient, notice_type=notice_type,
                     created_at=created_at, message_id=f"{body}{recipient}%s?")
    with database.atomic() as txn:
        [(row_id,)] = bulk.insert_rows(Outbox, [row], returning=[Outbox.id])
        got = Outbox.get_by_id(row_id)
        assert (got.body, got.recipient, got.notice_type, got.created_at, got.message_id) == (
            body, recipient, notice_type, created_at, row["message_id"])
        txn.rollback()
