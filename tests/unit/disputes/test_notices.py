"""Notice texts: the original's three byte for byte, and the resolution notice."""

from serbero.db.models import Dispute
from serbero.disputes import notices


def dispute(**fields):
    values = dict(dispute_id="0b4c1f8e-6a2d-4e3b-9c7a-1d2e3f4a5b6c", initiator_role="seller",
                  event_timestamp=1_700_000_000, lifecycle_state="notified", assigned_solver=None,
                  dispute_status="initiated")
    values.update(fields)
    return Dispute(**values)


def test_initial_notice_is_notif_2_exactly():
    assert notices.TEXTS[notices.INITIAL](dispute(), 0) == (
        "New Mostro dispute requires attention.\n"
        "dispute_id: 0b4c1f8e-6a2d-4e3b-9c7a-1d2e3f4a5b6c\n"
        "initiator: seller\n"
        "event_timestamp: 1700000000\n"
        "status: initiated")


def test_reminder_counts_from_the_event_timestamp():
    assert notices.TEXTS[notices.RENOTIFICATION](dispute(), 1_700_000_450) == (
        "Mostro dispute is still unattended.\n"
        "dispute_id: 0b4c1f8e-6a2d-4e3b-9c7a-1d2e3f4a5b6c\n"
        "lifecycle_state: notified\n"
        "time_elapsed_seconds: 450")


def test_assignment_names_the_solver_or_unknown():
    text = notices.TEXTS[notices.ASSIGNMENT]
    assert text(dispute(lifecycle_state="taken"), 0) == (
        "Mostro dispute has been taken.\n"
        "dispute_id: 0b4c1f8e-6a2d-4e3b-9c7a-1d2e3f4a5b6c\n"
        "assigned_solver: unknown\n"
        "lifecycle_state: taken")
    assert "assigned_solver: " + "ab" * 32 in text(dispute(assigned_solver="ab" * 32), 0)


def test_resolution_names_mostros_final_status():
    assert notices.TEXTS[notices.RESOLUTION](
        dispute(lifecycle_state="resolved", dispute_status="released"), 0) == (
        "Mostro dispute has been resolved.\n"
        "dispute_id: 0b4c1f8e-6a2d-4e3b-9c7a-1d2e3f4a5b6c\n"
        "status: released\n"
        "lifecycle_state: resolved")
