"""The aggregator's timing claims and pitfalls, against real server processes."""

import asyncio
import json
import os
import signal
import time

import httpx2
import pytest

from harness.servers import output, serve, serve_process
from harness.upstreams import FakeUpstream
from tests.test_servers import timed_gets

pytestmark = pytest.mark.slow  # each test starts real processes


@pytest.fixture(scope="module")
def uvicorn():
    """One uvicorn worker with the default upstream: this same server."""
    with serve("uvicorn") as url:
        yield url


@pytest.fixture(scope="module")
def fake_upstream():
    with FakeUpstream() as upstream:
        yield upstream


def get(url, **kwargs):
    started = time.monotonic()
    response = httpx2.get(url, timeout=30, **kwargs)
    return response, time.monotonic() - started


@pytest.mark.parametrize(
    ("way", "at_least", "below"),
    [
        ("bounded", 0.5, 0.8),
        ("threads", 0.5, 0.8),
        ("sync-loop", 5, 5.8),
        ("requests-loop", 5, 5.8),
    ],
)
def test_fan_out_timing(uvicorn, way, at_least, below):
    """10 calls of 0.5 s: async and threads overlap them (under 0.8 s), the
    loops add them up (5 s, and not much more)."""
    response, elapsed = get(f"{uvicorn}/aggregator/{way}/?n=10&delay=0.5")
    body = response.json()
    assert (response.status_code, body["errors"]) == (200, 0)
    assert [entry["value"]["task_id"] for entry in body["results"]] == list(range(10))
    assert at_least <= body["elapsed"] <= elapsed < below


def test_stream_sends_the_first_result_before_the_slowest_ends(fake_upstream):
    """The stream's first line arrives long before its slowest call (1.2 s) ends."""
    env = {"AGGREGATOR_UPSTREAM_URL": fake_upstream.url + "/stagger"}
    with serve("uvicorn", env=env) as url:
        started = time.monotonic()
        arrivals = []
        with httpx2.stream(
            "GET", f"{url}/aggregator/stream/?n=5", timeout=30
        ) as stream:
            for line in stream.iter_lines():
                arrivals.append((time.monotonic() - started, json.loads(line)))
    first_at, first = arrivals[0]
    last_at, summary = arrivals[-1]
    assert first["task_id"] == 0
    assert first_at < 0.8
    assert last_at >= 1.2
    assert summary["summary"]["errors"] == 0
    assert [line["task_id"] for _, line in arrivals[:-1]] == list(range(5))


def test_the_stream_is_sent_whole_under_wsgi(fake_upstream):
    """Under gunicorn (WSGI) Django collects an async stream before sending
    it: the first line arrives with the last, after the slowest call (1.2 s)."""
    env = {"AGGREGATOR_UPSTREAM_URL": fake_upstream.url + "/stagger"}
    with serve("gunicorn", env=env) as url:
        started = time.monotonic()
        with httpx2.stream(
            "GET", f"{url}/aggregator/stream/?n=5", timeout=30
        ) as stream:
            arrivals = [time.monotonic() - started for _ in stream.iter_lines()]
    assert len(arrivals) == 6
    assert arrivals[0] >= 1.2
    assert arrivals[-1] - arrivals[0] < 0.1


def test_every_way_answers_a_hanging_upstream_within_the_deadline(fake_upstream):
    """With the upstream a listener that never answers, each way answers JSON in time."""
    env = {
        "AGGREGATOR_UPSTREAM_URL": fake_upstream.url + "/hang",
        "AGGREGATOR_READ_TIMEOUT": "0.5",
        "AGGREGATOR_DEADLINE": "1.5",
    }
    with serve("uvicorn", env=env) as url:
        for way in ["bounded", "sync-loop", "requests-loop", "threads"]:
            response, elapsed = get(f"{url}/aggregator/{way}/?n=10&delay=1")
            assert response.status_code == 504, way
            assert response.json()["errors"] == 10
            assert elapsed < 2.5, way
        response, elapsed = get(f"{url}/aggregator/stream/?n=10&delay=1")
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert lines[-1]["summary"]["errors"] == 10
        assert elapsed < 2.5


def test_async_fan_out_under_wsgi_gets_a_fresh_client_each_time(fake_upstream):
    """Under gunicorn (WSGI) the async fan-out works request after request."""
    env = {"AGGREGATOR_UPSTREAM_URL": fake_upstream.url + "/json"}
    with serve("gunicorn", env=env) as url:
        for _ in range(3):
            response, _ = get(f"{url}/aggregator/bounded/?n=5&delay=0.2")
            assert response.json()["errors"] == 0


def test_blocking_sleep_in_async_view_stalls_the_loop(uvicorn):
    """time.sleep in async def: 5 concurrent 1 s requests run one after
    another, 5 s in all, all on the event loop's thread."""
    path = "/aggregator/pitfalls/blocking-sleep/?delay=1&word=hi"
    responses, elapsed = asyncio.run(timed_gets(uvicorn, path, 5))
    assert [r.status_code for r in responses] == [200] * 5
    assert 5 <= elapsed < 5.8
    assert {r.headers["X-View-Thread"] for r in responses} == {"MainThread"}


def test_non_blocking_twin_overlaps(uvicorn):
    """The asyncio.sleep twin: the same 5 requests take about 1 s."""
    path = "/aggregator/say-after/async/?delay=1&word=hi"
    responses, elapsed = asyncio.run(timed_gets(uvicorn, path, 5))
    assert [r.status_code for r in responses] == [200] * 5
    assert 1 <= elapsed < 1.5


def test_sync_views_under_asgi_are_not_serialized(uvicorn):
    """10 concurrent sync upstream calls of 1 s finish in under 1.6 s on one
    worker: each ran on a thread of its own."""
    path = "/aggregator/upstream/sync/?task_id=1&delay=1"
    responses, elapsed = asyncio.run(timed_gets(uvicorn, path, 10))
    assert [r.status_code for r in responses] == [200] * 10
    assert 1 <= elapsed < 1.6
    assert len({r.headers["X-View-Thread"] for r in responses}) == 10


def test_self_call_works_on_one_uvicorn_worker(uvicorn):
    """The 2020 post's self-call to the sync upstream succeeds today, in about 1 s."""
    response, elapsed = get(f"{uvicorn}/aggregator/pitfalls/self-call/?n=10&delay=1")
    body = response.json()
    assert (response.status_code, body["errors"]) == (200, 0)
    assert {entry["value"]["view"] for entry in body["results"]} == {"sync"}
    assert 1 <= elapsed < 1.6


def test_self_call_times_out_on_one_wsgi_thread():
    """On 1 gunicorn worker x 1 thread the self-call can't be served: a prompt 504."""
    env = {"AGGREGATOR_DEADLINE": "2"}
    with serve("gunicorn", "--workers", "1", "--threads", "1", env=env) as url:
        response, elapsed = get(f"{url}/aggregator/pitfalls/self-call/?n=2&delay=0")
    assert response.status_code == 504
    assert all("timeout" in entry["error"] for entry in response.json()["results"])
    assert elapsed < 4


def test_sigterm_ends_a_waiting_stream_with_a_line_that_says_so(fake_upstream):
    """A stream waiting on three calls that hang (10 s to its deadline) when the
    server gets SIGTERM: it ends at once with a `stopped` line, the calls are
    hung up, and the server exits within 5 s."""
    env = {"AGGREGATOR_UPSTREAM_URL": fake_upstream.url + "/hang"}
    with serve_process("uvicorn", env=env) as (url, process):
        path = f"{url}/aggregator/stream/?n=3&delay=1"
        hanging, hung_up = fake_upstream.hanging, fake_upstream.hung_up
        with httpx2.stream("GET", path, timeout=30) as response:
            assert fake_upstream.wait_for(lambda: fake_upstream.hanging == hanging + 3)
            os.kill(process.pid, signal.SIGTERM)
            stopping = time.monotonic()
            lines = [json.loads(line) for line in response.iter_lines()]
        ended = time.monotonic() - stopping
        status = process.wait(timeout=max(0.1, stopping + 5 - time.monotonic()))
        exited = time.monotonic() - stopping
        log = output(process)
    assert lines == [{"stopped": "the server is stopping: ask again"}]
    assert fake_upstream.wait_for(lambda: fake_upstream.hung_up == hung_up + 3)
    assert ended < 2
    assert exited < 5
    assert status == -signal.SIGTERM, log[-2000:]  # uvicorn re-raises SIGTERM


def test_fail_fast_answers_at_the_first_failure_and_hangs_up_the_rest(fake_upstream):
    """Call 0 fails at once and calls 1 to 9 hang: the TaskGroup fan-out
    answers 502 within 0.5 s, naming the failure and the nine calls it cut
    short, and the upstream sees those nine hang up; the gather fan-out keeps
    them waiting until its 1.5 s deadline."""
    env = {
        "AGGREGATOR_UPSTREAM_URL": fake_upstream.url + "/first-fails",
        "AGGREGATOR_DEADLINE": "1.5",
    }
    with serve("uvicorn", env=env) as url:
        hung_up = fake_upstream.hung_up
        response, elapsed = get(f"{url}/aggregator/fail-fast/?n=10&delay=1")
        results = response.json()["results"]
        assert response.status_code == 502
        assert elapsed < 0.5
        assert results[0]["error"] == "upstream answered HTTP 500"
        assert {r["error"] for r in results[1:]} == {"cancelled: call 0 failed first"}
        assert fake_upstream.wait_for(lambda: fake_upstream.hung_up == hung_up + 9)

        response, elapsed = get(f"{url}/aggregator/bounded/?n=10&delay=1")
        assert response.status_code == 502
        assert response.json()["errors"] == 10
        assert 1.5 <= elapsed < 2.3


def line_arrivals(url):
    """Seconds from the request to each line of a streamed answer."""
    started, arrivals = time.monotonic(), []
    with httpx2.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        for _ in response.iter_lines():
            arrivals.append(time.monotonic() - started)
    return arrivals


STREAM = "/aggregator/pitfalls/stream-{kind}/?lines=4&every=0.5"


def test_under_asgi_a_sync_iterator_is_read_whole_before_the_first_byte():
    """uvicorn: four lines 0.5 s apart from a sync generator all arrive
    together after 2 s, and Django warns that it read them whole; from an
    async generator the first arrives after 0.5 s."""
    with serve_process("uvicorn") as (url, process):
        sync = line_arrivals(url + STREAM.format(kind="sync"))
        asynchronous = line_arrivals(url + STREAM.format(kind="async"))
        log = output(process)
    assert len(sync) == len(asynchronous) == 4
    assert sync[0] >= 1.9 and sync[-1] - sync[0] < 0.2, sync
    assert asynchronous[0] < 1.0 <= 1.9 <= asynchronous[-1], asynchronous
    assert "must consume synchronous iterators" in log


def test_under_wsgi_it_is_the_other_way_round():
    """gunicorn (WSGI): the sync generator streams, its first line after
    0.5 s; the async one is read whole, its four lines together after 2 s."""
    with serve("gunicorn") as url:
        sync = line_arrivals(url + STREAM.format(kind="sync"))
        asynchronous = line_arrivals(url + STREAM.format(kind="async"))
    assert sync[0] < 1.0 and sync[-1] >= 1.9, sync
    assert asynchronous[0] >= 1.9 and asynchronous[-1] - asynchronous[0] < 0.2
