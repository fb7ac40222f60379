"""The ORM through a real uvicorn: no like is ever lost, and what gathering
queries in one view does (on this pass's database, SQLite or PostgreSQL)."""

import asyncio
import os
import subprocess
import sys
import time

import httpx2
import pytest

from harness.servers import BASE_DIR, CSRF, PRODUCTION_ENV, serve

pytestmark = pytest.mark.slow  # each test starts real processes

LIKES = 200


@pytest.fixture(scope="module")
def server_database(tmp_path_factory):
    """The server's database: on PostgreSQL the one DATABASE_URL names (make setup
    migrated and seeded it); on SQLite a new file, migrated and seeded here."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return {}
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'db.sqlite3'}"
    env = {**os.environ, **PRODUCTION_ENV, "DATABASE_URL": url}
    for command in (["migrate", "--noinput"], ["seed_blog"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--verbosity", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
        )
    return {"DATABASE_URL": url}


async def like_concurrently(url, count):
    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        before = (await client.get("/api/blog/1")).json()["likes"]
        responses = await asyncio.gather(
            *(client.post("/api/blog/1/like", headers=CSRF) for _ in range(count))
        )
        after = (await client.get("/api/blog/1")).json()["likes"]
    return before, [r.status_code for r in responses], after


def test_concurrent_likes_are_never_lost(server_database):
    """200 concurrent likes on one uvicorn worker raise the count by exactly 200."""
    with serve("uvicorn", env=server_database) as url:
        before, statuses, after = asyncio.run(like_concurrently(url, LIKES))
    assert statuses == [200] * LIKES
    assert after - before == LIKES


async def at_once(url, path, count):
    async with httpx2.AsyncClient(base_url=url, timeout=30) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.get(path) for _ in range(count)))
        return [r.json() for r in responses], time.monotonic() - started


def test_gathered_queries_run_one_after_another(server_database):
    """Three 0.5 s queries gathered in one async view take at least 1.4 s, all
    on the request's one thread; three requests of one such query each, sent
    at once, take under 0.8 s in all, each on a thread of its own; and so do
    three sent to threads of their own in one view."""
    with serve("uvicorn", env=server_database) as url:
        asyncio.run(at_once(url, "/blog/pitfalls/one-query/?seconds=0", 3))  # warm
        [gathered], _ = asyncio.run(
            at_once(url, "/blog/pitfalls/gathered-queries/?seconds=0.5", 1)
        )
        separate, took = asyncio.run(
            at_once(url, "/blog/pitfalls/one-query/?seconds=0.5", 3)
        )
        [apart], _ = asyncio.run(
            at_once(url, "/blog/pitfalls/queries-apart/?seconds=0.5", 1)
        )
    assert gathered["queries"] == 3
    assert 1.4 <= gathered["elapsed"] < 2.2, gathered
    assert len(gathered["threads"]) == 1
    assert took < 0.8, took
    assert len({answer["threads"][0] for answer in separate}) == 3
    assert apart["queries"] == 3
    assert 0.5 <= apart["elapsed"] < 0.8, apart
    assert len(apart["threads"]) == 3
    # Outside a test's transaction, every connection sees the same posts.
    assert apart["posts_seen"] == gathered["posts_seen"]
    assert len(set(apart["posts_seen"])) == 1 and apart["posts_seen"][0] > 0
