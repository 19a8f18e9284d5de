"""The web view over HTTP, behind the token gate, on seeded disputes: the list and its filters,
a dispute's page, the charts, and every kind of bad input answered with a clear 4xx page."""

import re
from urllib.parse import quote, urlencode

import pytest

from serbero.db.models import Dispute
from serbero.ops.web.listing import PAGE_SIZE
from tests.ops.conftest import TOKEN, http
from tests.ops.web.conftest import NOW


def ids_listed(body):
    return re.findall(r'href="/web/disputes/([0-9a-f-]{36})"', body)


def test_the_list_shows_the_newest_disputes_first_a_page_at_a_time(seeded, web_url):
    page = http(web_url + "/web/", token=TOKEN)
    assert page.status == 200
    assert ids_listed(page.body) == seeded[:PAGE_SIZE]
    assert re.search(r'id="total">60<', page.body)
    second = http(web_url + "/web/?page=2", token=TOKEN)
    assert ids_listed(second.body) == seeded[PAGE_SIZE:]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("query", "wanted"), [
    ({"state": "taken"}, lambda d: d.lifecycle_state == "taken"),
    ({"solver": "a1" * 32}, lambda d: d.assigned_solver == "a1" * 32),
    ({"solver": "none"}, lambda d: d.assigned_solver is None),
    ({"acked": "c3" * 32}, lambda d: d.acknowledged_by == "c3" * 32),
    ({"acked": "none", "state": "taken"},
     lambda d: d.acknowledged_by is None and d.lifecycle_state == "taken"),
    ({"age": "lt24h"}, lambda d: d.detected_at >= NOW - 86_400),
    ({"age": "gt7d", "state": "resolved"},
     lambda d: d.detected_at < NOW - 7 * 86_400 and d.lifecycle_state == "resolved"),
])
def test_each_filter_narrows_the_list_to_what_it_names(seeded, web_url, query, wanted):
    expected = [i for i in seeded if wanted(Dispute.get_by_id(i))][:PAGE_SIZE]
    assert expected, "the seed has disputes of every kind"
    page = http(web_url + "/web/?" + urlencode(query), token=TOKEN)
    assert page.status == 200
    assert ids_listed(page.body) == expected


def test_escalated_and_mediated_filters_use_their_tables(seeded, web_url):
    from serbero.escalation.models import EscalationHandoff
    from serbero.mediation.models import MediationSession

    escalated = {h.dispute_id for h in EscalationHandoff.select()}
    mediated = {s.dispute_id for s in MediationSession.select()}
    assert escalated and mediated
    for name, ids in (("escalated", escalated), ("mediated", mediated)):
        yes = ids_listed(http(web_url + f"/web/?{name}=yes", token=TOKEN).body)
        no = ids_listed(http(web_url + f"/web/?{name}=no&page=1", token=TOKEN).body)
        assert set(yes) == ids and not set(no) & ids


def test_the_search_finds_by_id_prefix(seeded, web_url):
    target = seeded[17]
    page = http(web_url + "/web/?q=" + target[:6].upper(), token=TOKEN)
    assert target in ids_listed(page.body)
    assert all(i.startswith(target[:6]) for i in ids_listed(page.body))


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE disputes; --",
                                     '"><script>alert(1)</script>', "\x00", "é" * 60])
def test_sql_and_html_in_the_search_match_nothing_and_are_shown_escaped(seeded, web_url,
                                                                        hostile):
    page = http(web_url + "/web/?" + urlencode({"q": hostile}), token=TOKEN)
    assert page.status == 200
    assert ids_listed(page.body) == []
    assert "<script>alert(1)" not in page.body
    if "script" in hostile:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.body
    assert Dispute.select().count() == 60  # parameterised: nothing ran


@pytest.mark.parametrize(("path", "named"), [
    ("/web/?state=bogus", "state"), ("/web/?age=99y", "age"), ("/web/?age=lt0h", "age"),
    ("/web/?solver=npub1nope", "solver"), ("/web/?acked=ack", "acked"),
    ("/web/?escalated=maybe", "escalated"),
    ("/web/?mediated=1", "mediated"), ("/web/?page=0", "page"), ("/web/?page=abc", "page"),
    ("/web/?page=%C2%B2", "page"), ("/web/?page=99999999999999999999", "page"),
    ("/web/?q=" + "a" * 65, "q"), ("/web/charts?window=1y", "window"),
    ("/web/disputes/x?party_text=yes", "party_text"),
])
def test_bad_filter_values_are_a_400_that_names_the_parameter(seeded, web_url, path, named):
    page = http(web_url + path, token=TOKEN)
    assert page.status == 400
    assert re.search(rf'id="error-message">{named}: ', page.body)


def test_unknown_disputes_and_pages_are_404(seeded, web_url):
    page = http(web_url + "/web/disputes/" + quote("<b>nope<b>"), token=TOKEN)
    assert page.status == 404
    assert "<b>nope" not in page.body and "&lt;b&gt;nope" in page.body
    assert http(web_url + "/web/nowhere", token=TOKEN).status == 404
    assert http(web_url + "/web/static/../app.py", token=TOKEN).status == 404
    assert http(web_url + "/web/disputes/x/escalate", token=TOKEN).status == 405


def test_huge_queries_and_bodies_are_refused_before_they_are_read(seeded, web_url):
    assert http(web_url + "/web/?q=" + "a" * 5000, token=TOKEN).status == 414
    many = "&".join(f"x{i}=1" for i in range(150))
    assert http(web_url + "/web/?" + many, token=TOKEN).status == 400
    big = http(web_url + f"/web/disputes/{seeded[0]}/escalate", token=TOKEN,
               data=b"note=" + b"x" * 20_000)
    assert big.status == 413


def test_without_the_token_nothing_is_shown(seeded, web_url):
    for path in ("/web/", f"/web/disputes/{seeded[0]}", "/web/charts", "/web/static/web.css"):
        refused = http(web_url + path)
        assert refused.status == 401 and seeded[0] not in refused.body
        assert http(web_url + path, token=TOKEN + "x").status == 401


def test_the_charts_show_each_series_over_the_window(seeded, web_url):
    page = http(web_url + "/web/charts?window=30d", token=TOKEN)
    assert page.status == 200
    for name in ("notify", "acknowledge", "take", "resolve"):
        section = page.body.split(f'id="chart-{name}"')[1].split("</section>")[0]
        assert "<svg" in section and '<rect class="p50"' in section
    assert "median 7" in page.body  # time to notify: ~75 ms median in the seed


def test_the_page_without_a_slash_and_the_root_lead_to_the_list(seeded, web_url):
    assert http(web_url + "/web", token=TOKEN).status == 200
    root = http(web_url + "/", token=TOKEN)
    assert (root.status, root.headers["location"]) == (303, "/web/")


def test_a_disputes_page_shows_who_acknowledged_it_and_how(seeded, web_url):
    acked = Dispute.get(Dispute.acknowledged_by.is_null(False))
    page = http(f"{web_url}/web/disputes/{acked.dispute_id}", token=TOKEN).body
    line = page.split("acknowledged by ")[1].split("</tr>")[0]
    assert line.startswith(acked.acknowledged_by[:8]) and "dispute, by reply, first" in line
    quiet = Dispute.get(Dispute.acknowledged_by.is_null())
    assert "acknowledged by" not in http(f"{web_url}/web/disputes/{quiet.dispute_id}",
                                         token=TOKEN).body
