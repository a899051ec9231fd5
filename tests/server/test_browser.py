"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright)."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import grid_spec

HOSTILE = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.browser


def test_dashboard_renders_escapes_and_refreshes(browser, live_server):
    base = live_server.url
    for name in ("demo", HOSTILE):
        assert httpx.post(f"{base}/api/studies", json=grid_spec(name)).status_code == 201
    for value in (0.25, 0.75):
        t = httpx.post(f"{base}/api/studies/demo/ask").json()["trial"]
        httpx.post(f"{base}/api/studies/demo/tell", json={"trial": t, "value": value})

    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else external.append(r.url))

    page.goto(f"{base}/")
    assert page.locator("#studies a", has_text=HOSTILE).count() == 1  # shown as text, not as an <img>
    assert page.locator("img").count() == 0
    page.locator("#studies a", has_text="demo").click()
    page.wait_for_url(f"{base}/studies/demo")
    page.wait_for_selector("#history .main-svg")  # plotly.js (served locally) drew the figure
    assert page.locator("#history .scatterlayer .point").count() == 2
    assert page.locator("#finished").inner_text() == "2"
    assert page.locator("#best-value").inner_text() == "0.75"

    # A client finishes another trial: the open page reloads itself with it.
    t = httpx.post(f"{base}/api/studies/demo/ask").json()["trial"]
    httpx.post(f"{base}/api/studies/demo/tell", json={"trial": t, "value": 0.9})
    page.wait_for_function("document.getElementById('finished').textContent === '3'", timeout=15_000)
    assert page.locator("#best-value").inner_text() == "0.9"

    page.goto(f"{base}/")
    page.locator("#studies a", has_text=HOSTILE).click()
    page.wait_for_selector("#study-name")
    assert page.locator("#study-name").inner_text() == HOSTILE
    assert dialogs == [] and external == []
    page.close()
