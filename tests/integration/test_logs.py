"""What an operator's log collector receives from a real daemon: with SERBERO_LOG_FORMAT=json one
JSON object per line, in logfmt one record per line, and a traceback inside its record either
way (issue 10, operator item 11). The failure is real: a wanted subscription whose stored
filters do not parse, so every time the listener reads it, it fails with a traceback. (A Redis
that is down is one warning line without a traceback, by design: test_outages.py.)"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time

from nostr_sdk import Keys

from tests.conftest import _free_port

LOGFMT_RECORD = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warning|error|"
                           r"critical) \S+ ")


def start_listener(tmp_path, relay, fmt):
    home = tmp_path / fmt
    home.mkdir()
    config = home / "config.toml"
    config.write_text(f'[serbero]\nprivate_key = "{Keys.generate().secret_key().to_hex()}"\n'
                      f'db_path = "serbero.db"\n'
                      f'[mostro]\npubkey = "{Keys.generate().public_key().to_hex()}"\n'
                      f'[[relays]]\nurl = "{relay}"\n'
                      f'[[solvers]]\npubkey = "{Keys.generate().public_key().to_hex()}"\n')
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERBERO_")}
    env.update(SERBERO_LOG_FORMAT=fmt, SERBERO_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    subprocess.run([sys.executable, "-m", "serbero", "migrate", "-c", str(config)], env=env,
                   capture_output=True, check=True, timeout=60)
    with sqlite3.connect(home / "serbero.db") as db:
        db.execute("INSERT INTO wanted_subscriptions VALUES ('chat-1', '[{\"kinds\": 1', "
                   "'ingest_mostro_event', 0, NULL)")
    log = home / "stderr.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "serbero", "listen", "-c", str(config)],
                                env=env, stdout=subprocess.DEVNULL, stderr=sink)
    return proc, log


def stop_when_logged(proc, log, needle, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    try:
        while needle not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"{needle} never logged: {log.read_text()}"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(15)
    return log.read_text().splitlines()


def test_records_are_one_line_each_with_the_traceback_inside_in_both_formats(tmp_path, relay):
    started = {fmt: start_listener(tmp_path, relay, fmt) for fmt in ("json", "logfmt")}
    try:
        lines = {fmt: stop_when_logged(*started[fmt], "wanted_subscription_change_failed")
                 for fmt in started}
    finally:  # the second listener too, when the first one's wait failed
        for proc, _ in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # JSON: every line is one object; the traceback is its `exc` field
    records = [json.loads(line) for line in lines["json"]]
    assert all({"time", "level", "logger", "event"} <= set(r) for r in records)
    failed = next(r for r in records if r["event"] == "wanted_subscription_change_failed")
    assert failed["level"] == "error" and failed["exc"].startswith("Traceback")
    assert "JSONDecodeError" in failed["exc"]
    assert any(r["event"] == "listener_starting" for r in records)
    # logfmt: every line starts a record; the traceback is a quoted field of its record
    assert all(LOGFMT_RECORD.match(line) for line in lines["logfmt"]), lines["logfmt"]
    failed = next(line for line in lines["logfmt"] if " wanted_subscription_change_failed " in line)
    assert ' exc="Traceback (most recent call last):\\n' in failed
