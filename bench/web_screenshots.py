"""Take docs/web-list.png and docs/web-dispute.png: a real `serbero dashboard` over seeded
disputes, photographed by the system's headless Chromium through Playwright.

    .venv/bin/python -m bench.web_screenshots        # needs chromium (apt-get install chromium)
"""

from __future__ import annotations

import shutil

from playwright.sync_api import sync_playwright

from bench import web_seed
from bench.web_workspace import ROOT, TOKEN, workspace
from serbero.db.models import Notification, Outbox
from serbero.mediation.models import MediationSession

DOCS = ROOT / "docs"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("no Chromium found: apt-get install -y chromium")


def _story(ids: list[str]) -> str:
    """A dispute with a long story still open: Serbero mediating it, one notice that gave up
    (so its Requeue button shows)."""
    mediated = {s.dispute_id for s in MediationSession.select(MediationSession.dispute_id)
                .where(MediationSession.state == "awaiting_response")}
    story = next(i for i in ids if i in mediated)
    (Outbox.update(status="failed", attempts=9, sent_at=None, sent_at_ms=None,
                   last_error="gave up after 9 attempts: no relay accepted it")
     .where((Outbox.dispute == story) & (Outbox.recipient == web_seed.SOLVERS[2])).execute())
    (Notification.update(status="failed", error_message="gave up after 9 attempts")
     .where((Notification.dispute == story)
            & (Notification.solver_pubkey == web_seed.SOLVERS[2])).execute())
    return story


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with workspace(240) as ws, sync_playwright() as p:
        story = _story(ws.ids)
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_context(
            viewport={"width": 1360, "height": 900},
            http_credentials={"username": "ops", "password": TOKEN}).new_page()
        page.goto(f"{ws.url}/web/?age=lt7d")
        page.screenshot(path=str(DOCS / "web-list.png"))
        page.goto(f"{ws.url}/web/disputes/{story}")
        page.fill("#escalate input[name=note]", "buyer sent the bank reference")
        page.click("#escalate button[type=submit]")
        page.wait_for_url("**done=escalated")
        page.screenshot(path=str(DOCS / "web-dispute.png"), full_page=True)
        page.goto(f"{ws.url}/web/charts?window=30d")
        page.screenshot(path=str(DOCS / "web-charts.png"), full_page=True)
        browser.close()
    print(f"wrote {DOCS}/web-list.png, web-dispute.png, web-charts.png")


if __name__ == "__main__":
    main()
