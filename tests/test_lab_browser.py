"""The live lab in a real browser: Debian's Chromium, driven by Playwright,
against a real uvicorn. The page reads as it draws: each bar is a `.req`
element with its lane, start, end and status, and #summary holds the figures.

Outside CI the tests skip, saying why, when Chromium or Playwright is missing
(`scripts/need-debian /usr/bin/chromium:chromium` installs the browser).
LAB_SCREENSHOT=<path> saves the picture of the say-after run that the README
shows (`make screenshot`).
"""

import itertools
import os
import shutil
import signal
import time
from urllib.parse import urlsplit

import httpx2
import pytest

from harness.servers import serve, serve_process

pytestmark = pytest.mark.slow  # each test starts real processes

CHROMIUM = "/usr/bin/chromium"
# Quiet and headless: no update checks, sync or other traffic of Chromium's own.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
]

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None


def missing():
    reasons = []
    if sync_playwright is None:
        reasons.append("Playwright is not installed (requirements-dev.txt)")
    if not shutil.which(CHROMIUM):
        reasons.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return "; ".join(reasons)


if missing():
    if os.environ.get("CI"):
        raise RuntimeError(f"the browser tests must run in CI: {missing()}")
    pytest.skip(missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def lab_url():
    with serve("uvicorn", env={"DJANGO_LAB": "1"}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, lab_url):
    """A page that records console errors and every request it makes; the
    test fails if any console error was logged or any request left loopback."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, hosts = [], set()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    yield page
    if not page.is_closed():
        page.close()
    assert errors == []
    assert hosts <= {"127.0.0.1"}


def open_run(page, lab_url, query, timeout_s=30):
    """Open a linked run, /lab/?...&run=1, and wait for its summary."""
    page.goto(f"{lab_url}/lab/?{query}&run=1")
    page.wait_for_selector("#summary:not([hidden])", timeout=timeout_s * 1000)


def bars(page, lane):
    """(start ms, end ms, status) of every bar drawn in `lane`."""
    return page.eval_on_selector_all(
        f'.req[data-lane="{lane}"]',
        """rects => rects.map(r => [
            Number(r.dataset.startMs), Number(r.dataset.endMs), r.dataset.status])""",
    )


def lane_figure(page, lane, name):
    row = page.locator(f'.lane-summary[data-lane="{lane}"]')
    return float(row.get_attribute(f"data-{name}"))


def wait_until(page, expression, timeout=30_000):
    """Poll `expression` with page.evaluate until it is true. Playwright's
    wait_for_function compiles its string with eval inside the page, which
    the site's Content-Security-Policy refuses, as it should."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} ms: {expression}")
        page.wait_for_timeout(25)


def test_the_page_loads_clean(page, lab_url):
    """The lab, the index page and the API docs load with no console error
    (a Content-Security-Policy violation is one) and no request off loopback
    (the favicon included), and the index links the lab."""
    policy = page.goto(f"{lab_url}/").headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert page.locator('a[href="/lab/"]').count() == 1
    page.goto(f"{lab_url}/api/docs")
    page.wait_for_selector(".opblock", timeout=10_000)  # Swagger UI drew the API
    page.goto(f"{lab_url}/lab/")
    page.wait_for_load_state("networkidle")
    options = page.eval_on_selector_all(
        "select[name=experiment] option", "options => options.map(o => o.value)"
    )
    assert options == ["say-after", "blocking-sleep", "fan-out", "orm"]
    assert page.locator("#status").inner_text() == "Ready."


def test_the_blog_loads_clean(page, lab_url):
    """The blog's list, a post, the login page and the drafts page (which
    sends an anonymous visitor to log in) load under the same policy with no
    console error."""
    policy = page.goto(f"{lab_url}/blog/").headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert page.locator("a[href^='/blog/']").count() > 1
    page.goto(f"{lab_url}/blog/1/")
    page.goto(f"{lab_url}/blog/login/")
    assert page.locator("input[name=password]").count() == 1
    page.goto(f"{lab_url}/blog/drafts/")
    assert "/blog/login/" in page.url


def test_fifty_async_say_afters_overlap(page, lab_url):
    """say-after, n=50, delay=1: 50 async bars, all ok, the slowest under 2 s,
    and the meter's thread count under 30 while they wait."""
    open_run(page, lab_url, "experiment=say-after&n=50&delay=1")
    async_bars = bars(page, "async")
    assert len(async_bars) == 50
    assert {status for _, _, status in async_bars} == {"ok"}
    assert float(page.get_attribute("#summary", "data-slowest-ms")) < 2000
    assert 1000 <= lane_figure(page, "async", "slowest-ms") < 2000
    assert 0 < lane_figure(page, "async", "threads-max") < 30
    assert len(bars(page, "sync")) == 50
    if path := os.environ.get("LAB_SCREENSHOT"):
        page.screenshot(path=path, full_page=True)


def test_the_blocking_pitfall_draws_a_staircase(page, lab_url):
    """blocking-sleep, n=5, delay=1: the pitfall lane ends one second apart,
    its slowest at least 4.5 s, beside an async lane that ends together."""
    open_run(page, lab_url, "experiment=blocking-sleep&n=5&delay=1")
    ends = sorted(end for _, end, _ in bars(page, "blocking"))
    assert len(ends) == 5
    steps = [later - earlier for earlier, later in itertools.pairwise(ends)]
    assert all(800 < step < 1500 for step in steps), ends
    assert 4500 <= lane_figure(page, "blocking", "slowest-ms") < 7000
    flat = [end - start for start, end, _ in bars(page, "async")]
    assert len(flat) == 5 and max(flat) < 1500


def test_the_fan_out_trio(page, lab_url):
    """fan-out, n=4, delay=1: the sync loop's slowest request takes the four
    calls in a row, at least 4 s; the async one and the thread pool's take
    about one call's time, under 2.5 s."""
    open_run(page, lab_url, "experiment=fan-out&n=4&delay=1")
    slowest = {
        lane: lane_figure(page, lane, "slowest-ms")
        for lane in ("async", "sync", "threads")
    }
    assert slowest["async"] < 2500
    assert slowest["sync"] >= 4000
    assert slowest["sync"] < 8000
    assert slowest["threads"] < 2500
    for lane in slowest:
        assert {status for _, _, status in bars(page, lane)} == {"ok"}


def test_closing_the_page_cancels_the_run(page, lab_url):
    """Closing the page while 100 five-second requests wait leaves none of them
    running on the server: the meter, read after, counts 0 in flight."""
    page.goto(f"{lab_url}/lab/?experiment=say-after&n=100&delay=5&run=1")
    wait_until(
        page,
        "document.querySelector('#meter').dataset.inFlight === '100'",
        timeout=10_000,
    )
    page.close()
    closed = time.monotonic()
    in_flight = None
    while time.monotonic() - closed < 2:
        in_flight = httpx2.get(f"{lab_url}/lab/meter/").json()["in_flight"]
        if in_flight == 0:
            break
        time.sleep(0.05)
    assert in_flight == 0


def test_a_stopping_server_has_the_page_send_the_run_again(browser):
    """SIGTERM to the server mid-run: its last event, `restart`, has the page
    say so and send the same run again a second later (here to a server that
    is gone, so that second try fails; behind nginx it reaches the other)."""
    with serve_process("uvicorn", env={"DJANGO_LAB": "1"}) as (url, process):
        page = browser.new_page()
        runs = []
        page.on(
            "request",
            lambda r: runs.append(time.monotonic()) if "/lab/run" in r.url else None,
        )
        page.goto(f"{url}/lab/?experiment=say-after&n=20&delay=5&run=1")
        wait_until(
            page,
            "document.querySelector('#meter').dataset.inFlight === '20'",
            timeout=10_000,
        )
        os.kill(process.pid, signal.SIGTERM)
        wait_until(
            page,
            "document.getElementById('status').textContent.includes('restarting')",
            timeout=3000,
        )
        restarted = time.monotonic()
        deadline = restarted + 3
        while len(runs) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        page.close()
    assert len(runs) == 2
    assert 0.5 < runs[1] - restarted < 2


def test_live_likes_between_two_tabs(browser, lab_url):
    """Two tabs on one post (the in-process broadcast, no Redis): a click on
    Like in one updates the count in the other, with no reload and no console
    error."""
    context = browser.new_context()
    errors = []
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        tab.on(
            "console", lambda m: errors.append(m.text) if m.type == "error" else None
        )
        tab.goto(f"{lab_url}/blog/4/")
        wait_until(tab, "document.getElementById('live-status').textContent === 'live'")
    before = int(second.inner_text("#like-count"))
    first.click("#like")
    wait_until(
        second,
        f"Number(document.getElementById('like-count').textContent) === {before + 1}",
        timeout=2000,
    )
    # The tab that clicked shows it from the POST's answer, which may land
    # just after the other tab's event.
    wait_until(
        first,
        f"Number(document.getElementById('like-count').textContent) === {before + 1}",
        timeout=2000,
    )
    assert int(first.inner_text("#like-count")) == before + 1
    context.close()
    assert errors == []
