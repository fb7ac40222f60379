"""PostgreSQL stops under a real uvicorn: every error raised before an answer
starts becomes the 503 JSON with Retry-After, a stream that loses the
database mid-body ends and is logged once, and its thread is lent again
clean. The test brings its own PostgreSQL, so it runs in the SQLite pass."""

import asyncio
import contextlib
import os
import time

import httpx2
import pytest

from deploy.cluster import prepare_database
from deploy.services import own_postgres
from harness.servers import output, serve_process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="brings its own PostgreSQL; it runs in the SQLite pass",
    ),
]


@pytest.fixture(scope="module")
def site():
    """uvicorn with DEBUG on (queries recorded), on a PostgreSQL of its own."""
    with own_postgres() as postgres:
        env = {
            "DATABASE_URL": postgres.url,
            "DATABASE_POOL_TIMEOUT": "1",
            "DJANGO_DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "tests.probe_settings",
        }
        prepare_database(env)
        with serve_process("uvicorn", env=env) as (url, process):
            yield url, process, postgres


def assert_unavailable(response):
    assert response.status_code == 503, response.text[:300]
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "error": "the database is unavailable; try again in a moment"
    }


async def read_stream(url):
    """The lines a stream sent, and how it ended."""
    lines = []
    async with (
        httpx2.AsyncClient(timeout=10) as client,
        client.stream("GET", url) as response,
    ):
        try:
            async for line in response.aiter_lines():
                lines.append(line)
        except httpx2.RemoteProtocolError:
            return lines, "cut off"
    return lines, "complete"


def test_a_stopped_database_answers_503_wherever_the_error_is_raised(site):
    """With PostgreSQL stopped: a view's query, a middleware's query and the
    session's save each answer 503 JSON with Retry-After, never a 500; a
    stream that was sending ends within 3 s, its error logged once; the
    threads are lent again clean; once PostgreSQL is back, pages answer 200."""
    url, process, postgres = site
    assert httpx2.get(f"{url}/blog/").status_code == 200

    async def stream_while_stopping():
        reading = asyncio.create_task(
            read_stream(f"{url}/probe/stream-queries?n=100&pause=0.1")
        )
        await asyncio.sleep(0.5)
        await asyncio.to_thread(postgres.stop)
        stopped = time.monotonic()
        lines, ending = await reading
        return lines, ending, time.monotonic() - stopped

    lines, ending, seconds = asyncio.run(stream_while_stopping())
    try:
        assert 3 <= len(lines) < 100 and ending == "cut off", (lines, ending)
        assert seconds < 3
        assert output(process).count("Exception in ASGI application") == 1

        assert_unavailable(httpx2.get(f"{url}/blog/"))  # the view's query
        assert_unavailable(httpx2.get(f"{url}/", headers={"X-Probe-Query": "1"}))
        assert_unavailable(httpx2.get(f"{url}/probe/session-write"))

        async def states():
            async with httpx2.AsyncClient(timeout=10) as client:
                return await asyncio.gather(
                    *(client.get(f"{url}/probe/thread-state") for _ in range(20))
                )

        answers = [answer.json() for answer in asyncio.run(states())]
        assert [(a["open"], a["queries"]) for a in answers] == [(False, 0)] * 20
    finally:
        postgres.start()
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(f"{url}/blog/").status_code == 200:
                break
        assert time.monotonic() < deadline, "the site did not recover"
        time.sleep(0.2)
    assert httpx2.get(f"{url}/probe/session-write").status_code == 200
