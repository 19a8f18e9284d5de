"""An operator requeues a notice that gave up (the web view's button): the very same signed
event goes out through the real relay, the notification records the delivery, and the give-up
window starts again at the requeue (on SQLite and PostgreSQL)."""

import uuid

import pytest

from serbero import clock, outbox
from serbero.db.models import AuditEvent, Notification, Outbox
from serbero.disputes.ingest import ingest
from serbero.errors import NotFound, PublishError
from serbero.outbox.publish import GIVE_UP_AFTER_S
from serbero.outbox.requeue import RequeueRefused, requeue
from tests.conftest import OneAtATime, via


class DownRelays(OneAtATime):
    """Relays that refuse everything (an injected network fault)."""

    def __init__(self, permanent):
        self.permanent = permanent

    def publish(self, raw):
        raise PublishError("no relay accepted it", permanent=self.permanent)


@pytest.fixture
def failed_notice(runtime, mostro):
    """A dispute's initial notice to Ana that gave up, as the outbox leaves it."""
    dispute_id = str(uuid.UUID(int=7))
    result = ingest(
        mostro.revision(dispute_id, "initiated").as_json(), settings=runtime.settings,
        signer=runtime.signer, now=clock.now())
    [ana_row] = [i for i in result.outbox_ids
                 if Outbox.get_by_id(i).recipient == runtime.settings.solvers[0].hex_pubkey]
    status = outbox.publish(ana_row, channels=via(DownRelays(permanent=True)),
                            settings=runtime.settings, now=clock.now())
    assert status == "failed"
    return dispute_id, ana_row


def test_a_requeued_notice_is_delivered_once_and_recorded(failed_notice, runtime, driver,
                                                          nostr_loop, solver_ana):
    dispute_id, row_id = failed_notice
    before = Outbox.get_by_id(row_id)
    # When an operator requeues it
    follow_up = requeue(row_id, now=clock.now(), operator="web:ops")
    # Then it is due again, and its notification waits for the outcome
    again = Outbox.get_by_id(row_id)
    assert (again.status, again.next_attempt_at <= clock.now()) == ("pending", True)
    assert again.requeued_at is not None and again.created_at == before.created_at
    assert Notification.get(Notification.outbox == row_id).status == "pending"
    [audit] = AuditEvent.select().where(AuditEvent.kind == "notice_requeued")
    assert audit.payload["requested_by"] == "web:ops" and audit.payload["outbox_id"] == row_id
    # and once published, Ana receives the same signed event and the delivery is recorded
    assert driver.publish(follow_up.outbox_ids) == ["sent"]
    assert nostr_loop.run(solver_ana.wait_for(1, dispute_id), 10)
    assert Outbox.get_by_id(row_id).body == before.body
    assert Notification.get(Notification.outbox == row_id).status == "sent"


def test_a_second_requeue_is_refused_and_changes_nothing(failed_notice):
    _, row_id = failed_notice
    requeue(row_id, now=clock.now(), operator="web")
    with pytest.raises(RequeueRefused, match="is pending, not failed"):
        requeue(row_id, now=clock.now(), operator="web")
    assert AuditEvent.select().where(AuditEvent.kind == "notice_requeued").count() == 1


def test_the_give_up_window_counts_from_the_requeue(failed_notice, runtime):
    _, row_id = failed_notice
    written = Outbox.get_by_id(row_id).created_at
    # Given a notice requeued a day after it was written
    later = written + GIVE_UP_AFTER_S + 60
    requeue(row_id, now=later, operator="web")
    # When a transient failure comes soon after the requeue, it is retried, not given up
    down = via(DownRelays(permanent=False))
    assert outbox.publish(row_id, channels=down, settings=runtime.settings,
                          now=later + 10) == "pending"
    # and only a whole window after the requeue is it given up again
    assert outbox.publish(row_id, channels=down, settings=runtime.settings,
                          now=later + GIVE_UP_AFTER_S) == "failed"


def test_rows_with_retries_of_their_own_or_unknown_ids_are_refused(failed_notice):
    _, row_id = failed_notice
    Outbox.update(purpose="mostro_take").where(Outbox.id == row_id).execute()
    with pytest.raises(RequeueRefused, match="retries of its own"):
        requeue(row_id, now=clock.now(), operator="web")
    with pytest.raises(NotFound):
        requeue(10**9, now=clock.now(), operator="web")
    assert Outbox.get_by_id(row_id).status == "failed"
