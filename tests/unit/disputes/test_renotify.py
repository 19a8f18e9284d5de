"""Re-notification policy (GAP-9): the original's rhythm first, then a back-off and a cap."""

from serbero.config import Timeouts
from serbero.disputes.renotify import first_renotify_at, following_renotify_at, interval_s


def test_defaults_keep_the_original_rhythm_for_twelve_rounds_then_stop():
    t = Timeouts()
    assert first_renotify_at(1000, t) == 1300
    assert [interval_s(n, t) for n in range(12)] == [300] * 12
    assert following_renotify_at(5000, 11, t) == 5300
    assert following_renotify_at(5000, 12, t) is None


def test_a_backoff_factor_stretches_each_wait():
    t = Timeouts(renotification_seconds=60, renotification_backoff_factor=2.0,
                 renotification_max_count=4)
    assert [interval_s(n, t) for n in range(4)] == [60, 120, 240, 480]
    assert following_renotify_at(0, 3, t) == 480
    assert following_renotify_at(0, 4, t) is None


def test_a_cap_of_zero_never_reminds():
    assert first_renotify_at(1000, Timeouts(renotification_max_count=0)) is None
