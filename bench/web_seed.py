"""Realistic rows for the web view's bench and screenshots: disputes at every stage of their
life over the last 30 days, with the rows the daemon would have written for them (transitions,
a notice per solver and its outbox row, reminders, a few failures, manual escalations and their
handoffs, mediation sessions with chat messages and summaries, audit rows). Bulk inserts, so 10,000
disputes take seconds. Seeded from a fixed random seed: every run writes the same rows.
"""

from __future__ import annotations

import json
import random
import uuid

from nostr_sdk import Keys

from serbero.acks.models import SolverAcknowledgement
from serbero.db.connection import database
from serbero.db.models import AuditEvent, Dispute, Notification, Outbox, Transition
from serbero.escalation.models import EscalationHandoff
from serbero.mediation.models import MediationMessage, MediationSession, MediationSummary

#: A fixed set of keys: three solvers (the first two with write permission) and Serbero.
SOLVERS = ("a1" * 32, "b2" * 32, "c3" * 32)
SERBERO_SECRET = "11" * 32
SERBERO = Keys.parse(SERBERO_SECRET).public_key().to_hex()
MOSTRO = "40" * 32
DAY_S = 86_400
BATCH = 500


def _chunks(rows: list[dict], size: int = BATCH):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def _insert(model, rows: list[dict]) -> None:
    for chunk in _chunks(rows):
        model.insert_many(chunk).execute()


def seed(count: int, *, now: int, seed_value: int = 9) -> list[str]:
    """Write `count` disputes detected over the last 30 days (newest `now`); return their ids,
    newest first."""
    rnd = random.Random(seed_value)
    ack_rnd = random.Random(seed_value + 1)  # its own stream: the other rows stay as they were
    disputes, transitions, outbox, notifications, audits, acks = [], [], [], [], [], []
    sessions, messages, summaries, escalated = [], [], [], []
    ids = []
    for i in range(count):
        dispute_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        ids.append(dispute_id)
        detected = now - int(30 * DAY_S * (i / max(1, count))) - rnd.randint(0, 600)
        stage = rnd.random()
        state, status, assigned = "notified", "initiated", None
        notify_ms = int(rnd.lognormvariate(4.3, 0.5))  # ~75 ms median
        take_s = int(rnd.lognormvariate(6.8, 0.9))     # ~15 min median
        resolve_s = take_s + int(rnd.lognormvariate(8.5, 0.7))
        trail = [(None, "new", detected, f"detected:{uuid.uuid4().hex * 2}"),
                 ("new", "notified", detected, "initial_notification")]
        if detected + take_s < now and stage > 0.15:
            assigned = SOLVERS[rnd.randrange(2)] if stage > 0.25 else SERBERO
            state, status = "taken", "in-progress"
            trail.append(("notified", "taken", detected + take_s, uuid.uuid4().hex * 2))
            if detected + resolve_s < now and (stage > 0.35 or stage < 0.2):
                state, status = "resolved", rnd.choice(["settled", "seller-refunded",
                                                        "released"])
                trail.append(("taken", "resolved", detected + resolve_s,
                              "dispute_resolved_externally"))
        elif stage < 0.03:
            state = "escalated"
            trail.append(("notified", "escalated", detected + 3600, "manual"))
        acked_by, acked_at = _acknowledgement(assigned, detected, take_s, now, ack_rnd)
        if acked_by:
            acks.append(dict(dispute_id=dispute_id, solver_pubkey=acked_by, scope="dispute",
                             source="reply", acknowledged_at=acked_at))
        disputes.append(dict(
            acknowledged_by=acked_by, acknowledged_at=acked_at, dispute_id=dispute_id,
            event_id=uuid.uuid4().hex * 2, mostro_pubkey=MOSTRO,
            initiator_role=rnd.choice(["buyer", "seller"]), dispute_status=status,
            event_timestamp=detected - 2, opened_at=detected - 2, detected_at=detected,
            detected_at_ms=detected * 1000, lifecycle_state=state, assigned_solver=assigned,
            last_notified_at=detected, last_state_change=trail[-1][2],
            status_event_id=uuid.uuid4().hex * 2, status_event_at=trail[-1][2],
            status_stage={"initiated": 0, "in-progress": 1}.get(status, 2),
            renotify_count=0, notify_rounds=1))
        transitions += [dict(dispute=dispute_id, from_state=f, to_state=t, transitioned_at=at,
                             trigger=trig) for f, t, at, trig in trail]
        reminders = 0 if state != "notified" else min(6, max(0, (now - detected) // 300))
        for solver in SOLVERS:
            failed = rnd.random() < 0.02
            sent_ms = None if failed else detected * 1000 + notify_ms + rnd.randint(0, 40)
            outbox.append(dict(
                channel="nostr", purpose="solver_dm", notice_type="initial", dispute=dispute_id,
                recipient=solver, message_id=uuid.uuid4().hex * 2, body="{}",
                status="failed" if failed else "sent", attempts=9 if failed else 1,
                last_error="gave up after 9 attempts: no relay accepted it" if failed else None,
                created_at=detected, created_at_ms=detected * 1000, next_attempt_at=detected,
                sent_at=None if failed else sent_ms // 1000, sent_at_ms=sent_ms,
                accepted_by=None if failed else '["wss://relay.mostro.network"]',
                requeued_at=None))
            notifications.append(dict(
                dispute=dispute_id, solver_pubkey=solver, notif_type="initial",
                status="failed" if failed else "sent", created_at=detected,
                sent_at=detected if not failed else detected + DAY_S,
                error_message="gave up after 9 attempts" if failed else None,
                message_id=outbox[-1]["message_id"]))
            for r in range(int(reminders) if solver == SOLVERS[0] else 0):
                at = detected + 300 * (r + 1)
                outbox.append(dict(
                    channel="nostr", purpose="solver_dm", notice_type="renotification",
                    dispute=dispute_id, recipient=solver, message_id=uuid.uuid4().hex * 2,
                    body="{}", status="sent", attempts=1, last_error=None, created_at=at,
                    created_at_ms=at * 1000, next_attempt_at=at, sent_at=at,
                    sent_at_ms=at * 1000 + 80, accepted_by='["wss://relay.mostro.network"]',
                    requeued_at=None))
                notifications.append(dict(
                    dispute=dispute_id, solver_pubkey=solver, notif_type="renotification",
                    status="sent", created_at=at, sent_at=at, error_message=None,
                    message_id=outbox[-1]["message_id"]))
        if state == "escalated" or (state == "taken" and stage < 0.2):
            escalated.append((dispute_id, detected + 3600))
        if assigned == SERBERO:
            sessions.append(_session(dispute_id, detected, state, rnd))
            messages += _messages(sessions[-1], rnd)
            if state == "resolved":
                summaries.append(_summary(sessions[-1]))
        audits.append(dict(kind="notification_sent_round", dispute_id=dispute_id,
                           payload_json=json.dumps({"dispute_id": dispute_id, "solvers": 3}),
                           occurred_at=detected))
    with database.atomic():
        _insert(Dispute, disputes)
        _insert(Transition, transitions)
        _insert(Outbox, outbox)
        by_message = dict(Outbox.select(Outbox.message_id, Outbox.id).tuples())
        for n in notifications:
            n["outbox"] = by_message[n.pop("message_id")]
        _insert(Notification, notifications)
        _insert(AuditEvent, audits)
        _insert(SolverAcknowledgement, acks)
        _insert(MediationSession, sessions)
        _insert(MediationMessage, messages)
        _insert(MediationSummary, summaries)
        _escalate(escalated)
    return ids


def _acknowledgement(assigned: str | None, detected: int, take_s: int, now: int,
                     rnd: random.Random) -> tuple[str | None, int | None]:
    """Most disputes a person took were acknowledged first (a while before the take); some
    still waiting were acknowledged by the third solver."""
    if assigned in SOLVERS and rnd.random() < 0.8:
        return assigned, detected + max(5, int(take_s * rnd.uniform(0.05, 0.5)))
    if assigned is None and rnd.random() < 0.3 and detected + 600 < now:
        return SOLVERS[2], detected + rnd.randint(60, 600)
    return None, None


def _session(dispute_id: str, detected: int, state: str, rnd: random.Random) -> dict:
    ended = state == "resolved"
    return dict(session_id=str(uuid.uuid4()), dispute_id=dispute_id,
                state="summary_delivered" if ended else "awaiting_response",
                started_by="detected", prompt_bundle_id="mediation-v1", policy_hash="9f" * 8,
                max_rounds=3, quiet_period_s=60, reply_timeout_s=3600, reminder_after_s=1800,
                default_language="en", order_id=str(uuid.uuid4()),
                buyer_trade_pubkey="b0" * 32, seller_trade_pubkey="5a" * 32,
                rounds_asked=rnd.randint(1, 3), started_at=detected + 5,
                opened_at=detected + 20, last_transition_at=detected + 900,
                ended_at=detected + 1800 if ended else None,
                end_reason="summary_delivered" if ended else None)


def _messages(session: dict, rnd: random.Random) -> list[dict]:
    texts = ["Hello, I am Serbero, helping with this dispute. Could you each say what happened?",
             "I sent the fiat two hours ago, here is the bank reference.",
             "I have not received anything yet on my account."]
    rows = []
    for k, (direction, party) in enumerate([("outbound", "buyer"), ("inbound", "buyer"),
                                            ("inbound", "seller")]):
        at = session["started_at"] + 60 * (k + 1)
        rows.append(dict(session_id=session["session_id"], direction=direction, party=party,
                         shared_pubkey="cc" * 32, inner_event_id=uuid.uuid4().hex * 2,
                         inner_event_created_at=at, outer_event_id=uuid.uuid4().hex * 2,
                         content=texts[k], template="opening" if k == 0 else None,
                         language="en", persisted_at=at, published_at=at))
    return rows


def _summary(session: dict) -> dict:
    return dict(session_id=session["session_id"], dispute_id=session["dispute_id"],
                classification="coordination_failure", confidence=0.82,
                suggested_next_step="ask the seller to check the account again",
                summary_text="Both parties agree the payment was sent; the seller has not "
                             "checked the right account.",
                prompt_bundle_id="mediation-v1", policy_hash="9f" * 8,
                generated_at=session["started_at"] + 1700)


def _escalate(escalated: list[tuple[str, int]]) -> None:
    for dispute_id, at in escalated:
        prepared = AuditEvent.create(kind="handoff_prepared", dispute_id=dispute_id,
                                     payload_json=json.dumps({"dispute_id": dispute_id,
                                                              "trigger": "manual"}),
                                     occurred_at=at)
        EscalationHandoff.create(
            handoff_event_id=prepared.id, dispute_id=dispute_id, trigger="manual",
            status="dispatched", route="write_solvers", recipients=json.dumps(SOLVERS[:2]),
            requested_by="ops", attempts=1, created_at=at, updated_at=at + 2,
            delivered_at=at + 2)
