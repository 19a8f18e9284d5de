"""Process heartbeats in the database: every long-running process (a listener, `serbero run`,
each worker process) writes its row every few seconds, saying it is alive and what it sees,
and marks it stopped on a clean stop. `serbero status` and `serbero metrics` read the rows, so
they can tell what runs and how it is doing in every mode: with the embedded broker (no Redis
at all), with Redis, and while Redis is down.

The database is already where every process writes; a row per process every few seconds costs
far less than the work it reports on.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from peewee import BigIntegerField, IntegerField, TextField

from serbero.db.models import BaseModel

#: Seconds between two heartbeats of one process.
BEAT_EVERY_S = 5.0
#: A process whose last heartbeat is older than this counts as down (four missed beats).
ALIVE_WITHIN_S = 20.0
#: Rows of processes silent this long are deleted when a process starts.
KEEP_S = 7 * 86400
#: Roles and the commands that run them.
LISTENER, WORKER = "listener", "worker"


class ProcessHeartbeat(BaseModel):
    process_id = TextField(primary_key=True)
    role = TextField()
    command = TextField()
    host = TextField()
    pid = IntegerField()
    started_at = BigIntegerField()
    beat_at = BigIntegerField()
    stopped_at = BigIntegerField(null=True)
    details_json = TextField(default="{}")

    class Meta:
        table_name = "process_heartbeats"


@dataclass(frozen=True)
class Beat:
    """One process's latest heartbeat; times are Unix seconds."""

    process_id: str
    role: str
    command: str
    host: str
    pid: int
    started_at: float
    at: float
    stopped_at: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def alive(self, now: float, within_s: float = ALIVE_WITHIN_S) -> bool:
        return self.stopped_at is None and now - self.at <= within_s

    @classmethod
    def from_row(cls, row: ProcessHeartbeat) -> Beat:
        try:
            details = json.loads(row.details_json)
        except ValueError:
            details = {}
        return cls(row.process_id, row.role, row.command, row.host, row.pid,
                   row.started_at / 1000, row.beat_at / 1000,
                   None if row.stopped_at is None else row.stopped_at / 1000,
                   details if isinstance(details, dict) else {})


class Beater:
    """The heartbeat writer of one process (one role in it)."""

    def __init__(self, role: str, command: str, *, clock: Callable[[], float] = time.time,
                 every_s: float | None = None) -> None:
        self.role, self.command = role, command
        self.clock = clock
        self.every_s = BEAT_EVERY_S if every_s is None else every_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.process_id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:6]}"
        self.started_at = clock()
        self._last: float | None = None

    def due(self) -> bool:
        return self._last is None or self.clock() - self._last >= self.every_s

    def beat(self, details: dict[str, Any], *, stopped: bool = False) -> None:
        """Write the row now (database errors propagate: the caller reports them)."""
        now = self.clock()
        if self._last is None:
            ProcessHeartbeat.delete().where(
                ProcessHeartbeat.beat_at < int((now - KEEP_S) * 1000)).execute()
        self._last = now
        values = {"role": self.role, "command": self.command, "host": self.host,
                  "pid": self.pid, "started_at": int(self.started_at * 1000),
                  "beat_at": int(now * 1000),
                  "stopped_at": int(now * 1000) if stopped else None,
                  "details_json": json.dumps(details, separators=(",", ":"), default=str)}
        (ProcessHeartbeat.insert(process_id=self.process_id, **values)
         .on_conflict(conflict_target=[ProcessHeartbeat.process_id],
                      update={getattr(ProcessHeartbeat, k): v for k, v in values.items()})
         .execute())


def read(now: float, *, within_s: float = 86400) -> list[Beat]:
    """The heartbeats written in the last `within_s` seconds, newest first."""
    rows = (ProcessHeartbeat.select()
            .where(ProcessHeartbeat.beat_at >= int((now - within_s) * 1000))
            .order_by(ProcessHeartbeat.beat_at.desc()))
    return [Beat.from_row(r) for r in rows]
