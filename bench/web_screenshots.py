"""Take docs/web-list.png and docs/web-dispute.png: a real `serbero dashboard` over seeded
disputes, photographed by the system's headless Chromium through Playwright.

    .venv/bin/python -m bench.web_screenshots        # needs chromium (apt-get install chromium)
"""

from __future__ import annotations

import shutil

from playwright.sync_api import sync_playwright

from bench.web_workspace import ROOT, TOKEN, workspace
from serbero.db.models import Dispute
from serbero.mediation.models import MediationSession

DOCS = ROOT / "docs"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("no Chromium found: apt-get install -y chromium")


def _story(ids: list[str]) -> str:
    """A dispute with the longest story: mediated, summarised, resolved."""
    mediated = {s.dispute_id for s in MediationSession.select(MediationSession.dispute_id)}
    resolved = [d.dispute_id for d in Dispute.select(Dispute.dispute_id)
                .where(Dispute.lifecycle_state == "resolved")]
    return next(i for i in ids if i in mediated and i in resolved)


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
        page.screenshot(path=str(DOCS / "web-dispute.png"), full_page=True)
        page.goto(f"{ws.url}/web/charts?window=30d")
        page.screenshot(path=str(DOCS / "web-charts.png"), full_page=True)
        browser.close()
    print(f"wrote {DOCS}/web-list.png, web-dispute.png, web-charts.png")


if __name__ == "__main__":
    main()
