"""The lean ASGI path as this site uses it, against real uvicorn processes:
the site's say-after holds no thread while it waits, and on PostgreSQL the
pool gets every connection back. The handler's own rules for threads are
tested in leanasgi/tests/, against a project of its own."""

import asyncio
import json
import os
import resource
import threading
import time

import pytest
from django.conf import settings

from bench import load
from harness.sampler import group_usage
from harness.servers import serve_process

pytestmark = pytest.mark.slow  # each test starts real processes

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
    """The state of every other session on the site's PostgreSQL database,
    asked with the site's own connection parameters, password included."""
    import psycopg

    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
    ) as check:
        rows = check.execute(
            "SELECT state FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [database["NAME"]],
        ).fetchall()
    return [state for (state,) in rows]
