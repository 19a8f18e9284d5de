"""The seams other work plugs into: what `serbero/` may import, the outbox's lazy purposes,
the protocol registry, the periodic-job table, and the one function that turns a follow-up
into messages. Import checks run in a fresh interpreter, so nothing this test session loaded
can hide an import."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from serbero import config, ticks
from serbero.followup import ESCALATION, WEBHOOKS, FollowUp, Later, Publish
from serbero.mostro import protocols
from serbero.outbox import purposes
from tests.conftest import NAMESPACE

ROOT = Path(__file__).parents[2]


def loaded_after(imports: str) -> set[str]:
    """The modules a fresh interpreter holds after running `imports`."""
    code = textwrap.dedent(imports) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_serbero_imports_neither_dramatiq_nor_workers_and_the_hot_path_no_ops():
    everything = loaded_after("""
        import importlib, pkgutil, serbero
        for m in pkgutil.walk_packages(serbero.__path__, "serbero."):
            if not m.name.endswith("__main__"):
                importlib.import_module(m.name)
    """)
    assert "serbero.cli" in everything and "serbero.ops.prometheus" in everything
    assert not {m for m in everything if m.split(".")[0] in ("dramatiq", "serbero_workers")}
    hot_path = loaded_after("""
        import serbero.listener, serbero.disputes.ingest, serbero.mostro.daemon, serbero.ticks
        import serbero.outbox, serbero.escalation.dispatch
    """)
    assert not {m for m in hot_path if m.startswith("serbero.ops")}


def test_the_generic_outbox_imports_no_domain_and_finds_each_purpose_by_name():
    alone = loaded_after("import serbero.outbox, serbero.outbox.publish")
    assert not {m for m in alone if m.startswith(("serbero.disputes", "serbero.escalation",
                                                  "serbero.mostro", "serbero.messages"))}
    for name in purposes.MODULES:
        assert purposes.get(name).name == name
    assert purposes.get("handoff_dm").lane == ESCALATION
    assert purposes.get("webhook_notice").lane == WEBHOOKS


def test_a_row_of_a_purpose_this_version_does_not_know_blocks_nothing(db, make_settings):
    # e.g. written by a newer worker during a rolling upgrade
    from serbero import outbox
    from serbero.db.models import Outbox

    def row(purpose, message_id):
        return Outbox.create(purpose=purpose, recipient="r", message_id=message_id, body="{}",
                             created_at=1, next_attempt_at=1).id
    future, known = row("from_the_future", "m1"), row("mostro_take", "m2")
    assert outbox.claim_due(10).outbox_ids == (known,)
    assert outbox.publish_many([future], channels={}, settings=make_settings(),
                               now=10).statuses == ("pending",)
    assert Outbox.get_by_id(future).attempts == 0


def test_every_protocol_version_is_one_module_of_the_registry():
    found = sorted(p.stem for p in (ROOT / "serbero/mostro/protocols").glob("v*.py"))
    assert list(protocols.names()) == found == ["v1", "v2"]
    assert [(v.name, v.number, v.kind) for v in protocols.every()] == [("v1", 1, 1059),
                                                                     ("v2", 2, 14)]
    assert protocols.by_kind(14).name == "v2" and protocols.by_kind(4) is None
    assert protocols.latest().name == "v2"
    assert [protocols.announced(n).name for n in (None, 1, 2, 7)] == ["v1", "v1", "v2", "v1"]


def test_periodic_jobs_are_one_table_with_periods_from_the_settings(make_settings):
    settings = make_settings().replace(escalation=config.EscalationSection(
        dispatch_interval_seconds=7))
    periods = ticks.periods(settings)
    assert list(periods) == [job.name for job in ticks.JOBS]
    assert periods["escalation"] == 7
    assert periods["renotify"] == settings.timeouts.renotification_check_interval_seconds


def test_a_follow_up_becomes_one_message_per_row_and_a_delayed_job(broker, redis_client):
    from serbero import clock
    from serbero_workers import wiring

    now = clock.now()
    wiring.follow_up(FollowUp(publish=(Publish(7, WEBHOOKS), Publish(8, ESCALATION)),
                              later=(Later("redispatch_handoff", now + 60, (3, "tok")),)))
    jobs = {q: [json.loads(redis_client.hget(f"{NAMESPACE}:{q}.msgs", i))
                for i in redis_client.hkeys(f"{NAMESPACE}:{q}.msgs")]
            for q in ("webhooks", "escalation", "escalation.DQ")}
    assert [(m["actor_name"], m["args"]) for m in jobs["webhooks"]] == [
        ("publish_webhook_row", [7])]
    assert [(m["actor_name"], m["args"]) for m in jobs["escalation"]] == [
        ("publish_handoff_dm", [8])]
    [delayed] = jobs["escalation.DQ"]
    assert (delayed["actor_name"], delayed["args"]) == ("redispatch_handoff", [3, "tok"])
    assert abs(delayed["options"]["eta"] - (now + 60) * 1000) < 5000
