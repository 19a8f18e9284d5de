"""Every fault of bench/chaos.py, short form: a burst of disputes x 3 solvers against the real
processes, one fault in the middle; no dispute lost, no DM twice, every DM out within seconds
of the fault's end (issue 8, items 1-2)."""

import chaos
import pytest

from tests.conftest import PG_URL

#: A small burst, published over a few seconds so the fault strikes inside it.
SHORT = chaos.Options(disputes=30, spread_s=2.0, durations=chaos.SHORT, threads=4,
                      pg_url=PG_URL, verbose=False)
#: What the short form must show: recovery well inside the minute the long form allows.
RECOVERED_WITHIN_S = 20.0


@pytest.mark.parametrize("key", [
    pytest.param(k, id=f"{k}-{s.title.split(',')[0].replace(' ', '_').replace('`', '')}",
                 marks=[pytest.mark.postgres] if s.postgres else [])
    for k, s in chaos.SCENARIOS.items()])
def test_a_burst_under_the_fault_loses_nothing_sends_nothing_twice_and_recovers(
        key, nostr_loop, redis_server):
    if chaos.SCENARIOS[key].postgres:
        from tests.conftest import _answers, need

        need(_answers("127.0.0.1", 5432), "PostgreSQL at 127.0.0.1:5432")
    lines = []
    result = nostr_loop.run(chaos.run_scenario(key, SHORT, lines.append), 240)
    assert result["notified_per_solver"] == [SHORT.disputes] * SHORT.solvers, (result, lines)
    assert result["lost"] == 0 and result["duplicates"] == 0, (result, lines)
    assert result["duplicate_rows"] == 0 and result["unsent_rows"] == 0, (result, lines)
    assert result["recovery_s"] < RECOVERED_WITHIN_S, (result, lines)
    assert chaos.passed(result)
