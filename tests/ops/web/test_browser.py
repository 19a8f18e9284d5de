"""The web view in a real headless Chromium (Debian's, driven by Playwright; no browser is
downloaded) against a real `serbero dashboard` process over seeded disputes: the list, its
filters and search, a dispute's page and its party-text toggle, the charts, escalation through
the form, and the refusal without the token. One dashboard and one browser for the module.

Skipped, saying why, only when no Chromium is installed outside CI; under CI it must run.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import need

try:
    from playwright import sync_api as playwright_api
except ImportError:  # pragma: no cover - the test extra installs it
    playwright_api = None

pytestmark = pytest.mark.slow


def _chromium() -> str | None:
    return next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def dashboard():
    from bench.web_workspace import workspace

    need(playwright_api is not None, "the playwright package (pip install -e '.[test]')")
    need(_chromium() is not None, "Chromium (apt-get install -y chromium)")
    with workspace(120) as ws:
        yield ws


@pytest.fixture(scope="module")
def browser(dashboard):
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, dashboard):
    from bench.web_workspace import TOKEN

    context = browser.new_context(http_credentials={"username": "ops", "password": TOKEN})
    opened = context.new_page()
    opened.problems = []
    opened.on("console", lambda m: m.type == "error" and opened.problems.append(m.text))
    opened.on("pageerror", lambda e: opened.problems.append(str(e)))
    yield opened
    context.close()


@pytest.mark.parametrize("credentials", [None, {"username": "ops", "password": "wrong-token"}])
def test_without_the_token_the_browser_is_refused(browser, dashboard, credentials):
    context = browser.new_context(http_credentials=credentials)
    statuses = []
    try:
        tab = context.new_page()
        tab.on("response", lambda r: statuses.append(r.status))
        try:
            tab.goto(f"{dashboard.url}/web/disputes/{dashboard.ids[0]}")
            shown = tab.inner_text("body")
        except playwright_api.Error as exc:  # no credentials at all: it gives up at once
            assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
            shown = ""
        assert statuses and set(statuses) == {401}
        assert dashboard.ids[0] not in shown
    finally:
        context.close()


def test_the_list_filters_and_search_work_in_the_browser(page, dashboard):
    page.goto(f"{dashboard.url}/web/")
    assert page.locator("#disputes tbody tr").count() == 50
    assert page.inner_text("#total") == "120"
    # filter by state through the form
    page.select_option("select[name=state]", "taken")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**state=taken**")
    states = page.locator("#disputes tbody td:nth-child(2)").all_inner_texts()
    assert states and set(states) == {"taken"}
    # search by an id prefix, HTML in it shown as text
    target = dashboard.ids[7]
    page.fill("input[name=q]", target[:8])
    page.press("input[name=q]", "Enter")
    page.wait_for_url(f"**q={target[:8]}**")
    assert page.locator("#disputes tbody td.id").all_inner_texts() == [target]
    page.goto(f"{dashboard.url}/web/?q=%3Cb%3Ebold%3C%2Fb%3E")
    assert "<b>bold</b>" in page.inner_text("#empty")
    assert page.locator("#empty b").count() == 0
    assert page.problems == []


def test_a_dispute_page_tells_its_story_and_shows_party_text_when_asked(page, dashboard):
    from serbero.mediation.models import MediationSession

    mediated = MediationSession.get().dispute_id
    page.goto(f"{dashboard.url}/web/?mediated=yes")
    page.click(f"a[href='/web/disputes/{mediated}']")
    page.wait_for_url(f"**/web/disputes/{mediated}")
    assert page.inner_text("#dispute-id") == mediated
    sources = set(page.locator("#timeline .source").all_inner_texts())
    assert {"mostro", "lifecycle", "notice", "mediation"} <= sources
    assert page.locator("blockquote.party-text").count() == 0
    page.click("#party-text-on")
    page.wait_for_url("**party_text=1")
    assert page.locator("blockquote.party-text").count() >= 3
    assert page.problems == []


def test_the_charts_render(page, dashboard):
    page.goto(f"{dashboard.url}/web/charts?window=30d")
    for name in ("notify", "take", "resolve"):
        chart = page.locator(f"#chart-{name} svg.chart")
        assert chart.count() == 1
        assert chart.locator("rect.p50").count() > 0
        assert chart.bounding_box()["width"] > 300
    assert page.problems == []


def test_an_operator_escalates_through_the_form(page, dashboard):
    from serbero.db.models import Dispute
    from serbero.escalation.models import EscalationHandoff

    done = {h.dispute_id for h in EscalationHandoff.select()}
    target = next(i for i in dashboard.ids if i not in done
                  and Dispute.get_by_id(i).lifecycle_state == "notified")
    page.goto(f"{dashboard.url}/web/disputes/{target}")
    page.fill("#escalate input[name=note]", "buyer sent proof")
    page.click("#escalate button[type=submit]")
    page.wait_for_url("**done=escalated")
    assert "Escalated" in page.inner_text("#done")
    [handoff] = EscalationHandoff.select().where(EscalationHandoff.dispute_id == target)
    assert (handoff.trigger, handoff.requested_by) == ("manual", "web:ops")
    assert f"handoff #{handoff.handoff_event_id} (manual)" in page.inner_text("#timeline")
    assert page.problems == []
