"""What a deployment serves with DEBUG off and nothing else turned on: the
demos that harm the server answer 404, no diagnostic header names a
thread, every page has a Content-Security-Policy, logs carry no traceback,
and `check --deploy` passes as docs/settings.md writes it."""

import asyncio
import re
import subprocess

import httpx2
import pytest

from harness.background import create_user, logged_in, query, spoiled_database
from harness.servers import (
    BARE_PRODUCTION,
    BASE_DIR,
    PRODUCTION_ENV,
    output,
    serve,
    serve_process,
)

pytestmark = pytest.mark.slow

HARMFUL = [
    "/aggregator/pitfalls/blocking-sleep/?delay=1&word=hi",
    "/aggregator/naive/?n=2&delay=0",
    "/aggregator/pitfalls/self-call/?n=2&delay=0",
    "/aggregator/pitfalls/stream-sync/?lines=2&every=0",
]


@pytest.fixture(scope="module")
def production():
    with serve("uvicorn", env=BARE_PRODUCTION) as url:
        yield url


@pytest.mark.parametrize("path", HARMFUL)
def test_harmful_demos_are_off(production, path):
    """Each demo whose lesson is that it hurts the server answers a 404 JSON
    saying how to turn it on, at once."""
    response = httpx2.get(production + path, timeout=5)
    took = response.elapsed.total_seconds()
    print(f"FIGURE harmful demo {path}: {response.status_code} in {took * 1000:.0f} ms")
    assert response.status_code == 404
    assert "DJANGO_DEMOS=1" in response.json()["allowed"]
    assert response.elapsed.total_seconds() < 0.5


def test_the_index_says_the_demos_are_off(production):
    """The index page tells a visitor that those demos are off here."""
    page = httpx2.get(production + "/").text
    assert "DJANGO_DEMOS=1" in page


@pytest.mark.parametrize("path", ["/", "/api/say-after?delay=0&word=hi", "/blog/1/"])
def test_no_diagnostic_headers(production, path):
    """No Server-Timing, no X-View-* and no Leanasgi-Thread header (which
    names modules) goes out in production."""
    headers = httpx2.get(production + path, timeout=5).headers
    assert not [name for name in headers if name.lower().startswith("x-view")]
    assert "server-timing" not in headers
    assert "leanasgi-thread" not in headers


def test_every_page_has_a_content_security_policy(production):
    """Django's CSP header: scripts and styles from this site's files only,
    no framing; the page has no inline script or style to need a nonce."""
    response = httpx2.get(production + "/", timeout=5)
    policy = response.headers.get("content-security-policy")
    print(f"FIGURE Content-Security-Policy on the index: {policy}")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy and "nonce" not in policy
    assert '<link rel="stylesheet" href="/static/site.css">' in response.text
    assert "<style" not in response.text and "<script>" not in response.text


def test_check_deploy_passes_as_the_chapter_writes_it():
    """The command in docs/settings.md, run by bash as written (with this
    virtualenv's python), reports no issues: a short key would be W009."""
    chapter = (BASE_DIR / "docs" / "settings.md").read_text()
    command = re.search(r"```sh\n(DJANGO_DEBUG=0 .*?check --deploy)\n", chapter, re.S)
    script = command.group(1).replace("python ", f"{BASE_DIR}/.venv/bin/python ")
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "no issues (0 silenced)" in done.stdout, done.stdout + done.stderr


def test_a_lab_run_logs_no_traceback():
    """A normal lab run, from start to its summary, leaves no traceback and
    no CancelledError in the server's log."""
    env = {"DJANGO_LAB": "1"}
    with serve_process("uvicorn", env=env) as (url, process):
        with httpx2.stream(
            "GET", f"{url}/lab/run/?experiment=say-after&n=3&delay=1", timeout=30
        ) as response:
            lines = list(response.iter_lines())
        log = output(process)
    assert "event: done" in lines
    assert "Traceback" not in log and "CancelledError" not in log, log


def test_production_env_turns_the_demos_on_only_when_asked():
    """The harness's production settings turn them on; BARE_PRODUCTION unsets them."""
    assert PRODUCTION_ENV["DJANGO_DEMOS"] == "1"
    assert BARE_PRODUCTION["DJANGO_DEMOS"] is None


def test_what_an_anonymous_attacker_gets(production):
    """Tried as an attacker with no account: a CSRF token from the login page
    does not publish draft 15 (sent to log in), the draft stays unreadable on
    the HTML, API and stream paths (404), and a like from another site's
    page, with no token, is a 403."""
    with httpx2.Client(base_url=production, timeout=10) as client:
        client.get("/blog/login/")
        token = {"X-CSRFToken": client.cookies["csrftoken"]}
        publish = client.post("/blog/15/publish/", headers=token)
        reads = {}
        for path in ("/blog/15/", "/api/blog/15", "/blog/15/events/"):
            with client.stream("GET", path) as answer:  # a stream stays open
                reads[path] = answer.status_code
        foreign = {"Origin": "https://evil.example"}
        like = client.post("/api/blog/1/like", headers=foreign)
        leaked = [
            name
            for name in client.get("/").headers
            if name.lower().startswith("x-view")
        ]
    print(
        f"FIGURE anonymous publish of draft 15 with a token: {publish.status_code}"
        f" {publish.headers.get('location', '')}; reading it: {reads};"
        f" a like from another site's page: {like.status_code};"
        f" X-View-* headers on the index: {leaked}"
    )
    assert publish.status_code == 302
    assert publish.headers["location"].startswith("/blog/login/?next=")
    assert set(reads.values()) == {404}, reads
    assert like.status_code == 403


def test_slow_sync_demos_run_a_few_at_once(production):
    """With the demos off, 30 sync say-afters of 1 s at once: 20
    (SLOW_DEMOS_AT_ONCE) answer 200 after their second, the other 10 a 503
    with Retry-After at once, so that they cannot take every request thread."""

    async def burst():
        limits = httpx2.Limits(max_connections=30)
        async with httpx2.AsyncClient(
            base_url=production, limits=limits, timeout=10
        ) as c:
            return await asyncio.gather(
                *(c.get("/api/say-sync?delay=1&word=hi") for _ in range(30))
            )

    answers = asyncio.run(burst())
    statuses = sorted(a.status_code for a in answers)
    print(
        f"FIGURE 30 slow sync demos of 1 s at once, demos off:"
        f" {statuses.count(200)} answered 200, {statuses.count(503)} refused (503)"
    )
    assert statuses == [200] * 20 + [503] * 10, statuses
    refused = [a for a in answers if a.status_code == 503]
    assert all(a.elapsed.total_seconds() < 0.8 for a in refused)
    assert refused[0].headers["Retry-After"] == "1"


def test_another_user_cannot_publish_a_draft(tmp_path):
    """Logged in as a user who is not its author, publishing Barbara's draft
    15 answers 404, as for a post that does not exist, and it stays a draft."""
    database = spoiled_database(tmp_path / "db.sqlite3")
    create_user(database, "Mallory", "mallory's long pass phrase")
    with serve("uvicorn", env={**BARE_PRODUCTION, **database}) as url:
        client = logged_in(url, "Mallory", "mallory's long pass phrase")
        publish = client.post("/blog/15/publish/")
        read = client.get("/api/blog/15")
    print(f"FIGURE another user publishes draft 15: {publish.status_code}")
    assert publish.status_code == 404
    assert read.status_code == 404
    published = query(
        tmp_path / "db.sqlite3", "SELECT published FROM blog_post WHERE id = 15"
    )
    assert published == [(None,)]
