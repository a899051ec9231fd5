"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright)."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import grid_spec

HOSTILE = "<img src=x onerror=alert(1)>"
# Every CSP violation is recorded here as well as logged as a console error.
WATCH_CSP = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation', "
    "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' "
    "+ e.lineNumber + ' ' + e.sample));"
)

pytestmark = pytest.mark.browser


def test_dashboard_renders_escapes_and_refreshes(browser, live_server):
    base = live_server.url
    for name in ("demo", HOSTILE):
        assert httpx.post(f"{base}/api/studies", json=grid_spec(name)).status_code == 201
    for value in (0.25, 0.75):
        t = httpx.post(f"{base}/api/studies/demo/ask").json()["trial"]
        httpx.post(f"{base}/api/studies/demo/tell", json={"trial": t, "value": value})

    page = browser.new_page()
    page.add_init_script(WATCH_CSP)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
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
    assert page.evaluate("window.__csp") == []  # the CSP lets the page's own scripts run

    # A client finishes another trial: the open page reloads itself with it.
    t = httpx.post(f"{base}/api/studies/demo/ask").json()["trial"]
    httpx.post(f"{base}/api/studies/demo/tell", json={"trial": t, "value": 0.9})
    page.wait_for_function("() => document.getElementById('finished').textContent === '3'", timeout=15_000)
    assert page.locator("#best-value").inner_text() == "0.9"

    page.goto(f"{base}/")
    page.locator("#studies a", has_text=HOSTILE).click()
    page.wait_for_selector("#study-name")
    assert page.locator("#study-name").inner_text() == HOSTILE
    assert page.evaluate("window.__csp") == []
    assert dialogs == [] and external == [] and errors == []
    page.close()


def test_dashboard_draws_under_its_csp_and_cannot_be_framed(browser, live_server, tmp_path):
    base = live_server.url
    assert httpx.post(f"{base}/api/studies", json=grid_spec("demo")).status_code == 201
    for value in (0.25, 0.75, 0.5):
        t = httpx.post(f"{base}/api/studies/demo/ask").json()["trial"]
        httpx.post(f"{base}/api/studies/demo/tell", json={"trial": t, "value": value})

    page = browser.new_page()
    page.add_init_script(WATCH_CSP)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(f"{base}/studies/demo")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector("#history .main-svg")
    assert page.locator("#history .scatterlayer .point").count() == 3
    page.locator("#history").hover()  # plotly's hover layer and modebar work too
    page.wait_for_function("() => document.getElementById('live').textContent === 'live'", timeout=15_000)
    page.screenshot(path=str(tmp_path / "study.png"), full_page=True)
    try:
        import hpsearch.report  # noqa: F401  (the full report page: inline plotly.js with the response's nonce)
    except ImportError:
        pass
    else:
        page.goto(f"{base}/reports/studies/demo")
        page.wait_for_selector(".main-svg")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert page.evaluate("window.__csp") == [] and errors == []

    # Another site's page that frames the dashboard gets nothing.
    framer = browser.new_page()
    with framer.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=30_000):
        framer.set_content(f'<iframe id="f" src="{base}/studies/demo"></iframe>')
    assert framer.frame_locator("#f").locator("#study-name").count() == 0
    page.close()
    framer.close()


def test_a_multi_objective_study_page_draws_its_front(browser, live_server):
    base = live_server.url
    spec = grid_spec("mo", sampler="random")
    del spec["study"]["direction"]
    spec["study"]["directions"] = ["maximize", "minimize"]
    assert httpx.post(f"{base}/api/studies", json=spec).status_code == 201
    for values in ([0.9, 3.0], [0.8, 1.0], [0.7, 2.0], [0.95, 5.0]):  # (0.7, 2.0) is dominated by (0.8, 1.0)
        t = httpx.post(f"{base}/api/studies/mo/ask").json()["trial"]
        assert httpx.post(f"{base}/api/studies/mo/tell", json={"trial": t, "values": values}).status_code == 200

    page = browser.new_page()
    page.add_init_script(WATCH_CSP)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else external.append(r.url))
    page.goto(f"{base}/studies/mo")
    page.wait_for_selector("#pareto .main-svg")
    traces = page.locator("#pareto .scatterlayer .trace")
    assert traces.nth(0).locator(".point").count() == 3  # the front
    assert traces.nth(1).locator(".point").count() == 1  # dominated
    assert page.evaluate("window.__csp") == [] and errors == [] and external == []
    page.close()
