"""Solver-message subjects, as Mostrix and mostro-watchdog key on them: the first line of every
message is `Dispute <id> · <subject>` (space, U+00B7, space), and the fixed start of a subject
is what a webhook filters on."""

from serbero import config
from serbero.db.models import Dispute
from serbero.disputes import notices
from serbero.messages import message

D = "0b4c1f8e-6a2d-4e3b-9c7a-1d2e3f4a5b6c"


def test_every_subject_reads_as_upstream_clients_expect():
    assert [message.NEW, message.TAKEN, message.MEDIATING, message.MEDIATION_FAILED] == [
        "new", "taken", "mediating", "mediation could not start"]
    assert message.unattended(12) == "unattended (12 min)"
    assert message.resolved("cooperatively-canceled") == "resolved: cooperatively-canceled"
    assert message.handed_off("conflicting_claims") == "handed off: conflicting_claims"
    assert message.transcript(18) == "transcript (18 messages, times UTC)"


def test_a_subjects_fixed_start_is_what_webhooks_filter_on():
    starts = {message.event_of(s) for s in (
        "new", "unattended (3 min)", "taken", "resolved: settled", "handed off: manual",
        "mediating", "mediation could not start")}
    assert starts == set(config.WEBHOOK_EVENTS)
    assert message.event_of(message.transcript(2)) == "transcript"
    assert "transcript" not in config.WEBHOOK_EVENTS


def test_a_notice_keeps_the_originals_lines_below_its_subject():
    dispute = Dispute(dispute_id=D, initiator_role="seller", event_timestamp=1_700_000_000,
                      lifecycle_state="notified", assigned_solver=None, dispute_status="initiated")
    reminder = notices.message(dispute, notices.RENOTIFICATION, 1_700_000_000 + 750)
    assert reminder.header == f"Dispute {D} \u00b7 unattended (12 min)"
    assert reminder.text == f"{reminder.header}\n{reminder.original}"
    assert reminder.original == notices.TEXTS[notices.RENOTIFICATION](dispute, 1_700_000_750)
