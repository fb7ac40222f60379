"""Why did this request take a thread? With LEANASGI_EXPLAIN_THREADS (on
with DEBUG), the handler names the first call a request borrowed its thread
for, in a Leanasgi-Thread header and a log line. Against real uvicorn."""

import time

import httpx2
import pytest

from .server import uvicorn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    with uvicorn() as (url, process):  # DEBUG is on in the test settings
        yield url, process


def test_a_sync_call_in_an_async_view_is_named(server):
    """An async view's sync_to_async call: the function, by dotted name."""
    url, _ = server
    response = httpx2.get(f"{url}/borrows-for")
    assert response.headers["Leanasgi-Thread"] == "tests.views.named_call"


def test_a_sync_view_is_named(server):
    """A sync view: the view itself."""
    url, _ = server
    response = httpx2.get(f"{url}/thread-state")
    assert response.headers["Leanasgi-Thread"] == "tests.views.thread_state"


def test_a_class_based_view_is_named_by_its_class(server):
    """A sync class-based view: its class, not as_view's inner function."""
    url, _ = server
    response = httpx2.get(f"{url}/report")
    assert response.headers["Leanasgi-Thread"] == "tests.views.Report"


def test_a_tasks_late_call_is_logged(server):
    """A call a request's task makes after the response: a log line naming
    the request, as a task's, and the call."""
    url, process = server
    assert httpx2.get(f"{url}/late-task?key=logged&delay=0.1").status_code == 200
    time.sleep(0.6)
    assert (
        "GET /late-task (a task, after the response) borrowed a thread for"
        " tests.views.query" in process.log()
    )


def test_a_sync_only_middleware_is_named():
    """A sync-only middleware, which Django runs (and the request) in a
    thread: the middleware's class."""
    env = {"LEANASGI_EXTRA_MIDDLEWARE": "tests.middleware_probe.SyncOnly"}
    with uvicorn(env) as (url, _):
        response = httpx2.get(f"{url}/borrows-for-nothing")
    assert response.headers["Leanasgi-Thread"] == "tests.middleware_probe.SyncOnly"


def test_a_request_that_borrowed_nothing_says_nothing(server):
    """An async view that makes no sync call: no header."""
    url, _ = server
    assert "Leanasgi-Thread" not in httpx2.get(f"{url}/borrows-for-nothing").headers


def test_a_session_save_names_the_middleware(server):
    """A view that writes the session: the middleware hook that saved it."""
    url, _ = server
    response = httpx2.get(f"{url}/session-write")
    assert response.headers["Leanasgi-Thread"] == (
        "leanasgi.middleware.SessionMiddleware.process_response"
    )


def test_a_sync_request_started_receiver_is_named():
    """A sync request_started receiver: the receiver, for every request,
    and a log line naming the request and the receiver."""
    with uvicorn({"LEANASGI_SYNC_RECEIVER": "1"}) as (url, process):
        response = httpx2.get(f"{url}/borrows-for-nothing")
        log = process.log()
    assert response.headers["Leanasgi-Thread"] == (
        "signal receivers tests.views.sync_receiver"
    )
    assert "GET /borrows-for-nothing borrowed a thread for signal receivers" in log


def test_it_is_off_without_debug():
    """LEANASGI_EXPLAIN_THREADS off: no header."""
    with uvicorn({"LEANASGI_EXPLAIN_THREADS": "0"}) as (url, _):
        assert "Leanasgi-Thread" not in httpx2.get(f"{url}/borrows-for").headers
