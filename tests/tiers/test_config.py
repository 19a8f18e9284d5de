"""`[[notifications.tiers]]` and quiet hours in the configuration: every bad value is named."""

import pytest

from serbero.errors import ConfigError
from serbero.tiers import quiet

ANA = "a" * 63 + "1"


def problems(make_settings, *, tiers, solvers=None, **more):
    from nostr_sdk import Keys

    solvers = solvers or [{"pubkey": Keys.generate().public_key().to_hex(), "permission": "write"},
                          {"pubkey": Keys.generate().public_key().to_hex(), "permission": "read"}]
    with pytest.raises(ConfigError) as caught:
        make_settings(solvers=solvers, sections={"notifications": {"tiers": tiers}}, **more)
    return caught.value.problems


def test_zero_and_negative_waits_are_refused(make_settings):
    found = problems(make_settings, tiers=[{"audience": "write", "wait_seconds": 0},
                                           {"audience": "all", "wait_seconds": -5}])
    assert any("#1.wait_seconds: must be more than 0 (got 0)" in p for p in found)
    assert any("#2.wait_seconds: must be more than 0 (got -5)" in p for p in found)


def test_an_unknown_audience_is_named_with_the_choices(make_settings):
    [found] = problems(make_settings, tiers=[{"audience": "everyone", "wait_seconds": 60}])
    assert "#1.audience: must be one of assigned, write, all, observers, webhooks" in found


def test_a_missing_audience_and_a_first_tier_of_bystanders_are_refused(make_settings):
    found = problems(make_settings, tiers=[{"wait_seconds": 60}], observers=["a" * 64])
    assert any("#1.audience: missing" in p for p in found)
    found = problems(make_settings, tiers=[{"audience": "observers", "wait_seconds": 60}],
                     observers=["b" * 64])
    assert any("the first tier must reach solvers" in p for p in found)


def test_reminders_must_fit_in_the_wait_and_repeat_be_positive(make_settings):
    found = problems(make_settings, tiers=[
        {"audience": "all", "wait_seconds": 60, "repeat": 3, "remind_every_seconds": 30},
        {"audience": "all", "wait_seconds": 60, "repeat": 0}])
    assert any("3 notices 30s apart do not fit" in p for p in found)
    assert any("#2.repeat: must be at least 1" in p for p in found)


def test_quiet_hours_covering_the_whole_day_for_every_solver_are_an_error(make_settings):
    from nostr_sdk import Keys

    whole = {"tz": "UTC", "from": "00:00", "to": "00:00"}
    solvers = [{"pubkey": Keys.generate().public_key().to_hex(), "permission": "write",
                "quiet_hours": whole},
               {"pubkey": Keys.generate().public_key().to_hex(), "quiet_hours":
                {**whole, "tz": "Asia/Tokyo", "from": "09:30", "to": "09:30"}}]
    found = problems(make_settings, tiers=[{"audience": "all", "wait_seconds": 60}],
                     solvers=solvers)
    assert any("every solver is quiet the whole day" in p for p in found)


@pytest.mark.parametrize(("window", "message"), [
    ({"tz": "Mars/Olympus", "from": "22:00", "to": "07:00"}, "is not a time zone"),
    ({"tz": "../../etc/passwd", "from": "22:00", "to": "07:00"}, "is not a time zone"),
    ({"tz": "", "from": "22:00", "to": "07:00"}, "must be a time-zone name"),
    ({"tz": "UTC", "from": "25:00", "to": "07:00"}, '`from` must be a time as "HH:MM"'),
    ({"tz": "UTC", "from": "22:00"}, "missing `to`"),
    ({"tz": "UTC", "from": "22:00", "to": "7", "x": 1}, "unknown key `x`"),
    ({"tz": 5, "from": "22:00", "to": "07:00"}, "must be a time-zone name")])
def test_bad_quiet_hours_are_named(make_settings, window, message):
    from nostr_sdk import Keys

    solvers = [{"pubkey": Keys.generate().public_key().to_hex(), "permission": "write",
                "quiet_hours": window}]
    found = problems(make_settings, tiers=[{"audience": "all", "wait_seconds": 60}],
                     solvers=solvers)
    assert any("#1.quiet_hours:" in p and message in p for p in found), found


def test_a_good_chain_loads_and_quiet_hours_without_tiers_only_warn(make_settings):
    from nostr_sdk import Keys

    solver = {"pubkey": Keys.generate().public_key().to_hex(), "permission": "write",
              "quiet_hours": {"tz": "Europe/Madrid", "from": "22:00", "to": "07:00"}}
    settings = make_settings(solvers=[solver], sections={"notifications": {"tiers": [
        {"audience": "assigned", "wait_seconds": 300, "repeat": 2},
        {"audience": "all", "wait_seconds": 600}]}})
    assert [t.audience for t in settings.notifications.tiers] == ["assigned", "all"]
    assert settings.notifications.tiers[0].spacing_s() == 150
    plain = make_settings(solvers=[solver])
    assert any("only [[notifications.tiers]] read quiet hours" in w for w in plain.warnings)


def test_a_window_crossing_midnight_follows_the_solvers_zone():
    window = quiet.parse({"tz": "Europe/Madrid", "from": "22:00", "to": "07:00"})
    # 2026-01-15 21:30 UTC is 22:30 in Madrid (CET); 06:30 UTC is 07:30
    assert window.covers(1768512600)
    assert not window.covers(1768458600)
    # in July (CEST, UTC+2) 20:30 UTC is already 22:30 in Madrid
    assert window.covers(1784233800)
    same_day = quiet.parse({"tz": "UTC", "from": "09:00", "to": "17:00"})
    assert same_day.covers(1768467600) and not same_day.covers(1768496400)
