"""`serbero status`: a snapshot rendered for a terminal (one line per concern) or as JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from serbero.clock import utc_text
from serbero.ops.heartbeat import Beat
from serbero.ops.snapshot import Snapshot

LABEL_WIDTH = 14


def ago(seconds: float) -> str:
    """A duration, coarsely: `45s`, `3m05s`, `2h13m`, `4d03h`."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def when(ts: float) -> str:
    return f"{utc_text(ts)} UTC"


def _line(label: str, text: str) -> str:
    return f"{label:<{LABEL_WIDTH}}{text}"


def _indent(text: str) -> str:
    return " " * LABEL_WIDTH + text


def render(snap: Snapshot) -> list[str]:
    """The status as lines of text."""
    now = snap.taken_at
    lines = [f"Serbero status at {when(now)} (namespace {snap.namespace})", ""]
    lines += _process_lines(snap)
    lines += _redis_lines(snap)
    applied = snap.last_event_applied_at
    seen = snap.last_event_seen_at
    lines.append(_line("last event", ", ".join([
        f"seen by a listener {ago(now - seen)} ago" if seen else "seen by a listener: -",
        f"applied by a worker {ago(now - applied)} ago" if applied else "applied: never",
    ])))
    lines.append(_line("disputes", " · ".join(f"{s} {n}" for s, n in snap.disputes.items())))
    u = snap.unattended
    lines.append(_line("unattended", "none" if u is None else (
        f"{u.count} waiting for a solver; oldest {u.dispute_id} ({u.state}), detected "
        f"{ago(now - u.detected_at)} ago at {when(u.detected_at)}")))
    lines.append(_line("handoffs", _handoffs_text(snap, now)))
    lines.append(_line("escalations", " · ".join(f"{t} {n}" for t, n in snap.escalations.items())
                       or "none"))
    lines.append(_line("mediation", _sessions_text(snap)))
    lines.append(_line("notifications", _notifications_text(snap)))
    return lines


def _who(beat: Beat) -> str:
    return f"`serbero {beat.command}` pid {beat.pid} on {beat.host}"


def _process_lines(snap: Snapshot) -> list[str]:
    """Listeners, their relays and the worker processes, from their heartbeats (every mode)."""
    p, now = snap.processes, snap.taken_at
    if p is None:
        return [_line("listener", "unknown: no heartbeat table yet; run `serbero migrate`")]
    lines = []
    for i, b in enumerate(p.listeners):
        state = "; catching up" if b.details.get("catching_up") else ""
        lines.append(_line("listener" if i == 0 else "", (
            f"up: {_who(b)}, heartbeat {ago(now - b.at)} ago, running for "
            f"{ago(now - b.started_at)}; Redis {b.details.get('redis', 'unknown')}{state}")))
    shown = p.freshest_listener
    if shown is None:
        last = p.last_listener
        lines.append(_line("listener", "DOWN: " + (
            "no listener has written a heartbeat to this database in the last day"
            if last is None else
            f"no heartbeat in the last {int(p.alive_within_s)}s; last {_who(last)}, "
            f"{ago(now - last.at)} ago, "
            + ("stopped cleanly" if last.stopped_at else "then silent (killed or crashed)"))))
        shown = last
    if shown is not None:
        lines += _relay_lines(shown, now, live=shown.alive(now, p.alive_within_s))
    threads, busy = p.worker_threads
    if p.workers:
        inside = " (inside `serbero run`)" if all(b.command == "run" for b in p.workers) else ""
        lines.append(_line("workers", (
            f"{len(p.workers)} process{'es' if len(p.workers) > 1 else ''} consuming{inside}, "
            f"heartbeat {ago(now - p.workers[0].at)} ago (alive: within "
            f"{int(p.alive_within_s)}s); {threads} threads, {busy} busy")))
    else:
        lines.append(_line("workers", f"NONE consuming: no worker heartbeat in the last "
                                      f"{int(p.alive_within_s)}s; jobs wait in the queues"))
    return lines


def _relay_lines(beat: Beat, now: float, *, live: bool) -> list[str]:
    relays = [r for r in beat.details.get("relays", []) if isinstance(r, dict)]
    up = sum(bool(r.get("connected")) for r in relays)
    lines = [_line("relays", f"{up}/{len(relays)} connected"
                   + ("" if live else " when that listener was last seen"))]
    width = max((len(str(r.get("url"))) for r in relays), default=0)
    for r in relays:
        since = r.get("since")
        held = f" for {ago(now - since)}" if isinstance(since, int | float) else ""
        state = (f"connected{held}" if r.get("connected")
                 else f"NOT CONNECTED{held}: {r.get('error') or 'unknown'}")
        lines.append(_indent(f"{r.get('url')!s:<{width}}  {state}"))
    return lines


def _redis_lines(snap: Snapshot) -> list[str]:
    r = snap.redis
    if r is None:
        return [_line("queues", "unavailable: the embedded broker's queues live in memory "
                                "inside `serbero run` (no SERBERO_REDIS_URL)"),
                _line("rejected", "unavailable: counted across processes in Redis only")]
    if r.error:
        return [_line("redis", f"UNREACHABLE at {r.url}: {r.error}")]
    header = ("QUEUE", "READY", "IN FLIGHT", "DELAYED", "DEAD")
    rows = [header] + [(q.name, str(q.ready), str(q.in_flight), str(q.delayed), str(q.dead))
                       for q in r.queues]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = ["  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                                    zip(row[1:], widths[1:], strict=True)])
             for row in rows]
    lines = [_line("queues", table[0])]
    lines += [_indent(t) for t in table[1:]]
    rejected = r.rejections or {}
    lines.append(_line("rejected", " · ".join(f"{k} {v}" for k, v in rejected.items())
                       or "none"))
    return lines


def _handoffs_text(snap: Snapshot, now: float) -> str:
    h = snap.handoffs
    if h is None:
        return "escalation tables missing; run `serbero migrate`"
    text = f"{h.awaiting_dispatch} awaiting dispatch"
    if h.oldest_awaiting_at is not None:
        text += f" (oldest {ago(now - h.oldest_awaiting_at)} ago)"
    text += "; dispatches: " + (", ".join(f"{s} {n}" for s, n in h.dispatches_by_status.items())
                                or "none")
    if h.handoffs_by_status:
        text += "; handoffs: " + ", ".join(f"{s} {n}" for s, n in h.handoffs_by_status.items())
    return text


def _sessions_text(snap: Snapshot) -> str:
    if snap.sessions is None:
        return "mediation tables missing; run `serbero migrate`"
    present = {state: n for state, n in snap.sessions.items() if n}
    return "sessions: " + (" · ".join(f"{s} {n}" for s, n in present.items()) or "none")


def _notifications_text(snap: Snapshot) -> str:
    by_type: dict[str, list[str]] = {}
    for (notif_type, status), n in sorted(snap.notifications.items()):
        by_type.setdefault(notif_type, []).append(f"{n} {status}")
    return " · ".join(f"{t}: {', '.join(parts)}" for t, parts in by_type.items()) or "none"


def as_dict(snap: Snapshot) -> dict[str, Any]:
    """The status as JSON-ready data (for scripts: `serbero status --json`)."""
    data = dataclasses.asdict(snap)
    nested: dict[str, dict[str, int]] = {}
    for (notif_type, status), n in snap.notifications.items():
        nested.setdefault(notif_type, {})[status] = n
    data["notifications"] = nested
    data["workers_alive"] = snap.workers_alive
    data["last_event_seen_at"] = snap.last_event_seen_at
    data["latency"] = {"count": snap.latency.count, "sum_ms": snap.latency.sum_ms}
    return data
