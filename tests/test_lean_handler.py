"""The lean ASGI handler (mysite/handlers.py), against real uvicorn processes.

A request that only waits holds no thread; one that runs sync code gets a
thread of its own for its whole life; threads are never shared by two
requests in flight, never lent while busy, and not kept past the idle pool.
"""

import asyncio
import json
import os
import resource
import threading
import time

import pytest
from django.conf import settings

from bench import load
from bench.sampler import group_usage
from bench.servers import serve_process
from bench.storm import abandon

PROBE = {"DJANGO_SETTINGS_MODULE": "tests.probe_settings"}


def uvicorn(env=None):
    """One uvicorn worker serving the probe views: (its URL, its process)."""
    return serve_process("uvicorn", env={**PROBE, **(env or {})})


@pytest.fixture(scope="module")
def server():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with uvicorn() as (url, process):
        yield url, process
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def threads(process):
    return group_usage(process.pid)[1]


def get_all(url, count):
    answers = asyncio.run(load.get_all(url, count))
    assert [status for status, _, _ in answers] == [200] * count
    return [(seconds, json.loads(body)) for _, seconds, body in answers]


@pytest.mark.parametrize(
    ("stock", "added", "slowest"), [(False, (0, 3), 2.5), (True, (250, 310), 5)]
)
def test_waiting_async_requests_hold_no_thread(stock, added, slowest):
    """While 300 async 2 s say-afters wait, the lean handler adds at most 3
    threads and answers all within 2.5 s; Django as shipped (DJANGO_STOCK=1)
    adds about one thread per waiting request (250 or more by the time the
    count is read, 1 s in)."""
    env = {"DJANGO_SETTINGS_MODULE": None, "DJANGO_STOCK": "1" if stock else "0"}
    with uvicorn(env) as (url, process):
        before = threads(process)
        during = []
        timer = threading.Timer(1.0, lambda: during.append(threads(process)))
        timer.start()
        answers = get_all(f"{url}/api/say-after?delay=2&word=hi", 300)
    assert max(seconds for seconds, _ in answers) < slowest
    assert added[0] <= during[0] - before <= added[1], (before, during)


def test_concurrent_sync_views_never_share_a_thread(server):
    """50 concurrent 0.5 s sync views run on 50 distinct threads, side by side."""
    url, _ = server
    answers = get_all(f"{url}/probe/sync-thread?delay=0.5", 50)
    assert len({body["thread"] for _, body in answers}) == 50
    assert max(seconds for seconds, _ in answers) < 0.5 * 2


def test_one_request_runs_all_its_sync_calls_on_one_thread(server):
    """Three sync_to_async calls of one async view, a query among them, share a
    thread, kept across a 0.5 s wait; so 20 such requests at once, overlapping
    in that wait, use 20 threads."""
    url, _ = server
    answers = get_all(f"{url}/probe/sync-calls?wait=0.5", 20)
    per_request = [set(body["threads"]) for _, body in answers]
    assert all(len(used) == 1 for used in per_request)
    assert len(set().union(*per_request)) == 20


def test_a_busy_thread_is_never_lent_to_another_request(server):
    """A client hangs up on a 3 s sync view; 10 sync requests sent right after
    all answer at once, none on the abandoned view's thread."""
    url, _ = server
    asyncio.run(abandon(f"{url}/probe/sync-thread?delay=3", clients=1, after=0.3))
    answers = get_all(f"{url}/probe/sync-thread", 10)
    assert max(seconds for seconds, _ in answers) < 0.5
    assert len({body["thread"] for _, body in answers}) == 10


def test_idle_threads_are_bounded_after_a_burst(server):
    """After 400 concurrent 0.5 s sync views (400 threads at once), the thread
    count falls back to at most the idle pool plus the server's own."""
    url, process = server
    before = threads(process)
    answers = get_all(f"{url}/probe/sync-thread?delay=0.5", 400)
    assert len({body["thread"] for _, body in answers}) == 400
    deadline = time.monotonic() + 3
    while threads(process) > before + settings.LEANASGI_IDLE_THREADS:
        assert time.monotonic() < deadline, threads(process)
        time.sleep(0.1)


def test_every_request_sends_started_and_finished_once(server):
    """Receivers connected to request_started and request_finished run once
    per request: 100 concurrent requests of three kinds, 100 of each signal."""
    url, _ = server
    before = get_all(f"{url}/probe/signals", 1)[0][1]
    for path in ("/api/say-after?delay=0&word=hi", "/probe/sync-thread"):
        get_all(url + path, 50)
    after = get_all(f"{url}/probe/signals", 1)[0][1]
    # Each reading counts its own start, and the previous reading's finish.
    assert after["started"] - before["started"] == 100 + 1
    assert after["finished"] - before["finished"] == 100 + 1


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="pg_stat_activity is PostgreSQL's",
)
def test_database_connections_are_given_back():
    """After 500 concurrent requests that query PostgreSQL, the server holds no
    more connections than its pool's max_size, and none idle in a transaction."""
    before = backend_states()  # other servers of this module keep their pools
    with uvicorn() as (url, _):
        answers = get_all(f"{url}/probe/sync-calls", 500)
        assert len(answers) == 500
        time.sleep(0.5)
        states = backend_states()
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    assert len(states) - len(before) <= pool["max_size"]
    assert "idle in transaction" not in states


def backend_states():
    """The state of every other session on the site's PostgreSQL database."""
    import psycopg

    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        dbname=database["NAME"],
    ) as check:
        rows = check.execute(
            "SELECT state FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [database["NAME"]],
        ).fetchall()
    return [state for (state,) in rows]
