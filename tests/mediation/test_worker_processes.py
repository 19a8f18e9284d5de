"""Mediation in real worker processes (`dramatiq serbero_workers.wiring:boot`) on real Redis: two
workers fed every party message three times produce one stored copy of each and one outbound
round (on SQLite and PostgreSQL); a worker SIGKILLed mid-session, holding the session's delayed
evaluation, is replaced and the session continues — the timer comes back from the database,
no party message is lost, none is stored or answered twice."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serbero.db.models import Outbox
from serbero.mediation import timers
from serbero.mediation.models import INBOUND, OUTBOUND, MediationMessage, MediationTimer
from serbero.simulators.model import CLASSIFY, classification
from serbero_workers import actors, wiring
from tests.conftest import NAMESPACE, REDIS_URL, need
from tests.mediation.conftest import MODEL_KEY_ENV, mediation_sections
from tests.mediation.harness import opened

ASK = classification("ask_clarification", buyer="When did you pay?", seller="Did it arrive?")
AGAIN = classification("ask_clarification", buyer="From which bank?", seller="Which account?")
COPIES = 3


def toml(doc: dict) -> str:
    """The few TOML shapes a configuration uses: tables, arrays of tables, plain values."""
    def value(v):
        return ("true" if v else "false") if isinstance(v, bool) else json.dumps(v)
    out = []
    for name, body in doc.items():
        for entry in body if isinstance(body, list) else [body]:
            out.append(f"[[{name}]]" if isinstance(body, list) else f"[{name}]")
            out += [f"{k} = {value(v)}" for k, v in entry.items()]
    return "\n".join(out) + "\n"


def start_worker(config: Path, db_url: str) -> subprocess.Popen:
    env = {**os.environ, "SERBERO_CONFIG": str(config), "SERBERO_DB_URL": db_url,
           "SERBERO_REDIS_URL": REDIS_URL, "SERBERO_REDIS_NAMESPACE": NAMESPACE,
           "SERBERO_LOG": "warning", MODEL_KEY_ENV: "sk-test-key"}
    # its own process group: SIGKILL must reach the worker process, not only its supervisor
    return subprocess.Popen([sys.executable, "-m", "dramatiq", "serbero_workers.wiring:boot",
                             "-p", "1", "-t", "4", "--skip-logging"], env=env,
                            start_new_session=True, cwd=Path(__file__).parents[2])


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_until(predicate, timeout=30.0, every=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        if every is not None:
            every()
        time.sleep(0.2)


@pytest.fixture
def quiet() -> int:
    """The session's quiet period: long enough for the test to act while it runs."""
    return 2


@pytest.fixture
def setup(make_mediation, scripts, relay, serbero_keys, node_keys, ana, bo, model, tmp_path,
          db, broker, quiet):
    """A session opened in this process (both parties asked), and the configuration file the
    workers run with: the same keys, database, relay and scripted model."""
    need(REDIS_URL is not None, "Redis")
    med = make_mediation(relays=[relay], quiet_period_seconds=quiet)
    dispute = med.open_dispute()
    scripts.on(dispute, ASK, AGAIN)
    buyer, seller = opened(med, dispute)
    config = tmp_path / "config.toml"
    config.write_text(toml({
        "serbero": {"private_key": serbero_keys.secret_key().to_hex()},
        "mostro": {"pubkey": node_keys.public_key().to_hex()},
        "relays": [{"url": relay}],
        "solvers": [{"pubkey": ana.public_key().to_hex(), "permission": "write"},
                    {"pubkey": bo.public_key().to_hex(), "permission": "read"}],
        **mediation_sections(model.api_base, quiet_period_seconds=quiet)}))
    config.chmod(0o600)
    return med, dispute, buyer, seller, config


def rows(session_id, direction):
    return list(MediationMessage.select().where((MediationMessage.session_id == session_id)
                                                & (MediationMessage.direction == direction)))


@pytest.mark.slow
@pytest.mark.parametrize("quiet", [1])  # nothing to do while the period runs
def test_two_workers_fed_every_message_three_times_make_one_round(setup, db, model, backend):
    med, dispute, buyer, seller, config = setup
    session = med.session(dispute)
    answers = [buyer.says("I paid at 10:02", med.clock()),
               seller.says("nothing arrived yet", med.clock())]
    procs = [start_worker(config, db.url) for _ in range(2)]
    try:
        copies = [raw for raw in answers for _ in range(COPIES)]
        random.shuffle(copies)
        for raw in copies:
            actors.ingest_chat_event.send(raw)
        wait_until(lambda: med.session(dispute).rounds_asked == 2)
        wait_until(lambda: not Outbox.select().where(Outbox.status == "pending").exists())
        time.sleep(0.5)  # any job still racing would have written by now
    finally:
        for p in procs:
            stop(p)
    assert sorted(r.content for r in rows(session.session_id, INBOUND)) == [
        "I paid at 10:02", "nothing arrived yet"]
    outbound = rows(session.session_id, OUTBOUND)
    assert sorted(r.party for r in outbound) == ["buyer", "buyer", "seller", "seller"]
    assert sorted(r.content.rsplit(": ", 1)[1] for r in outbound[2:]) == [
        "From which bank?", "Which account?"]
    assert med.session(dispute).rounds_asked == 2


@pytest.mark.slow
def test_a_worker_killed_mid_session_is_replaced_and_the_session_goes_on(setup, db, model):
    # (SQLite only: what is tested is a process's death; the race above runs on both backends)
    med, dispute, buyer, seller, config = setup
    session = med.session(dispute)
    worker = start_worker(config, db.url)
    replacement = None
    try:
        # Given the worker stored both answers and holds the session's delayed evaluation
        actors.ingest_chat_event.send(buyer.says("I paid at 10:02", med.clock()))
        actors.ingest_chat_event.send(seller.says("nothing arrived yet", med.clock()))
        wait_until(lambda: len(rows(session.session_id, INBOUND)) == 2
                   and MediationTimer.select().where(
                       MediationTimer.kind == timers.EVALUATE).exists())
        # When it is killed, and a party writes while no worker runs
        stop(worker, signal.SIGKILL)
        actors.ingest_chat_event.send(buyer.says("from my bank app", med.clock()))
        replacement = start_worker(config, db.url)
        # Then the replacement (with the periodic tick the listener would fire) goes on
        wait_until(lambda: med.session(dispute).rounds_asked == 2, timeout=40,
                   every=lambda: wiring.fire_tick("mediation", int(time.time())))
        wait_until(lambda: not Outbox.select().where(Outbox.status == "pending").exists())
    finally:
        stop(worker, signal.SIGKILL)
        if replacement is not None:
            stop(replacement)
    assert sorted(r.content for r in rows(session.session_id, INBOUND)) == [
        "I paid at 10:02", "from my bank app", "nothing arrived yet"]
    assert len(rows(session.session_id, OUTBOUND)) == 4  # the opening round and one more
    assert len(model.calls(CLASSIFY)) >= 2
