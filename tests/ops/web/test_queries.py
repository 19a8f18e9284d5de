"""The web view's queries on SQLite and PostgreSQL: the list's filters combined, and the charts'
figures against what the rows say; the filters' parsers and the whole application against
arbitrary input (hypothesis): a value is parsed or a 4xx, never a 500."""

from urllib.parse import urlencode
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import web_seed
from serbero.db.models import Dispute, Outbox, Transition
from serbero.ops.web import charts, filters, listing
from tests.ops.web.conftest import NOW


@pytest.fixture
def rows(backend, db):
    return web_seed.seed(80, now=NOW)


def test_filters_combine_on_both_backends(rows):
    parsed = filters.parse({"state": "resolved", "age": "gt24h", "solver": "b2" * 32,
                            "escalated": "no", "q": ""})
    page = listing.page(parsed, number=1, now=NOW)
    expected = [d.dispute_id for d in Dispute.select().where(
        (Dispute.lifecycle_state == "resolved") & (Dispute.detected_at < NOW - 86_400)
        & (Dispute.assigned_solver == "b2" * 32))
        .order_by(Dispute.detected_at.desc(), Dispute.dispute_id.desc())]
    assert expected and [r.dispute.dispute_id for r in page.rows] == expected[:50]
    assert page.total == len(expected)
    assert all(r.sent + r.failed >= 3 for r in page.rows)


def test_the_charts_match_the_rows_on_both_backends(rows):
    drawn = {c.series.name: c for c in charts.charts(window_s=30 * 86_400, now=NOW)}
    since = NOW - 30 * 86_400
    # time to take: one sample per dispute detected in the window that was taken
    taken = {}
    for t in Transition.select().where(Transition.to_state == "taken"):
        d = Dispute.get_by_id(t.dispute_id)
        if d.detected_at >= since:
            taken[d.dispute_id] = t.transitioned_at - d.detected_at
    values = sorted(taken.values())
    assert drawn["take"].count == len(values) > 0
    assert drawn["take"].p50 == charts.percentile([float(v) for v in values], 50)
    assert sum(b.count for b in drawn["take"].buckets) == len(values)
    # time to notify: the first initial notice sent, in milliseconds
    first = {}
    for o in Outbox.select().where((Outbox.notice_type == "initial")
                                   & Outbox.sent_at_ms.is_null(False)):
        first[o.dispute_id] = min(first.get(o.dispute_id, o.sent_at_ms), o.sent_at_ms)
    assert drawn["notify"].count == len(first)
    assert 0.01 < drawn["notify"].p50 < 1.0


def test_a_window_with_no_disputes_draws_empty_charts(db):
    for chart in charts.charts(window_s=86_400, now=NOW):
        assert (chart.count, chart.p50, chart.p95) == (0, None, None)
        assert len(chart.buckets) == charts.BUCKETS


def test_the_percentile_is_the_nearest_rank():
    assert charts.percentile([], 50) is None
    assert charts.percentile([1.0], 95) == 1.0
    assert charts.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert charts.percentile([float(i) for i in range(1, 101)], 95) == 95.0


@given(st.dictionaries(st.sampled_from([*filters.BY_NAME, "other"]), st.text(max_size=80)))
def test_a_filter_value_is_parsed_or_refused_clearly(params):
    try:
        parsed = filters.parse(params)
    except filters.BadFilter as exc:
        assert str(exc).split(":")[0] in filters.BY_NAME
    else:
        assert set(parsed) <= set(filters.BY_NAME)


@pytest.fixture
def call(web_settings, db):
    from serbero.ops.web import WebView
    from serbero.ops.web.actions import Actions

    def refuse(*args):
        raise AssertionError("no action without a valid form")

    app = WebView(web_settings, Actions(refuse, refuse), now=lambda: NOW)

    def request(path, query="", method="GET", body=b""):
        environ = {}
        setup_testing_defaults(environ)
        environ.update(PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=method,
                       CONTENT_LENGTH=str(len(body)))
        environ["wsgi.input"].write(body)
        environ["wsgi.input"].seek(0)
        status = []
        b"".join(app(environ, lambda s, h, *e: status.append(int(s.split()[0]))))
        return status[0]
    return request


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/web/", "/web/charts", "/web/disputes/x",
                             "/web/disputes/x/escalate", "/web/outbox/1/requeue"]),
       params=st.dictionaries(st.sampled_from(["q", "state", "age", "solver", "escalated",
                                               "mediated", "page", "window", "party_text",
                                               "done", "csrf", "note"]),
                              st.text(max_size=100), max_size=6),
       method=st.sampled_from(["GET", "POST", "PUT", "HEAD"]))
def test_arbitrary_requests_are_answered_never_with_a_500(call, path, params, method):
    query = urlencode(params)
    body = query.encode() if method == "POST" else b""
    status = call(path, "" if method == "POST" else query, method, body)
    assert status in (200, 303, 400, 403, 404, 405, 409, 413, 414)
