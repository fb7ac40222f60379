"""Live likes over server-sent events, in-process and through Redis, against
real uvicorn processes and a real redis-server (Debian's package; `.ci/run`
installs it, and outside CI these tests skip when it is missing)."""

import asyncio
import contextlib
import itertools
import os
import re
import resource
import shutil
import signal
import time
from pathlib import Path

import httpx2
import pytest

from deploy.services import REDIS_SERVER, Redis
from harness.sampler import group_usage
from harness.servers import CSRF, output, serve_process

pytestmark = pytest.mark.slow  # each test starts real processes

QUICK_HEARTBEAT = {"BLOG_EVENTS_HEARTBEAT": "0.5"}
POST = 3


@pytest.fixture(scope="module")
def redis():
    if not shutil.which(REDIS_SERVER):
        if os.environ.get("CI"):
            raise RuntimeError("the Redis tests must run in CI: no redis-server")
        pytest.skip("no redis-server (apt-get install redis-server)")
    server = Redis()
    server.start()
    yield server
    with contextlib.suppress(Exception):
        server.stop()


@pytest.fixture(params=["in-process", "redis"])
def server(request):
    """One uvicorn worker, with each broadcast backend in turn."""
    env = dict(QUICK_HEARTBEAT)
    redis = None
    if request.param == "redis":
        redis = request.getfixturevalue("redis")
        env["REDIS_URL"] = redis.url
    with serve_process("uvicorn", env=env) as (url, process):
        yield url, process, redis


async def open_events(client, url, post=POST, last_event_id=None):
    """Open a post's event stream; an async iterator of its lines."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    request = client.build_request("GET", f"{url}/blog/{post}/events/", headers=headers)
    response = await client.send(request, stream=True)
    assert response.status_code == 200, await response.aread()
    return response, response.aiter_lines()


async def next_count(lines, timeout=5):
    """The count of the next `likes` event, skipping heartbeats."""
    async with asyncio.timeout(timeout):
        async for line in lines:
            if line.startswith("data: "):
                return int(line.removeprefix("data: "))
    raise AssertionError("the stream ended")


def like(url, post=POST):
    response = httpx2.post(f"{url}/api/blog/{post}/like", headers=CSRF, timeout=10)
    assert response.status_code == 200
    return response.json()["likes"]


def watchers(url):
    return httpx2.get(f"{url}/blog/live/", timeout=5).json()["watchers"]


def test_a_like_reaches_an_open_page(server):
    """A page's stream first sends the current count, then each like within
    500 ms, with the count as the event id; the page's HTML carries the
    stream's and the button's URLs."""
    url, _, redis = server
    backend = "redis" if redis else "in-process"
    assert httpx2.get(f"{url}/blog/live/").json() == {"backend": backend, "watchers": 0}
    page = httpx2.get(f"{url}/blog/{POST}/").text
    assert f'data-events-url="/blog/{POST}/events/"' in page
    assert f'data-like-url="/api/blog/{POST}/like"' in page

    async def scenario():
        async with httpx2.AsyncClient(timeout=10) as client:
            response, lines = await open_events(client, url)
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            first = await next_count(lines)
            liked = time.monotonic()
            new = await asyncio.to_thread(like, url)
            assert await next_count(lines) == new == first + 1
            return time.monotonic() - liked

    assert asyncio.run(scenario()) < 0.5


def test_a_reconnecting_page_catches_up(server):
    """Last-Event-ID behind the count: the new count at once. Equal to it:
    nothing but heartbeat comments, every BLOG_EVENTS_HEARTBEAT seconds."""
    url, _, _ = server
    current = like(url)

    async def scenario():
        async with httpx2.AsyncClient(timeout=10) as client:
            _, lines = await open_events(client, url, last_event_id=current - 1)
            assert await next_count(lines, timeout=1) == current
            _, lines = await open_events(client, url, last_event_id=current)
            heard = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.2):
                    async for line in lines:
                        heard.append(line)
            return [line for line in heard if line]

    assert asyncio.run(scenario()) == [": heartbeat", ": heartbeat"]


def test_unknown_post_is_a_404(server):
    """The events of a post that does not exist: 404, not an open stream."""
    url, _, _ = server
    assert httpx2.get(f"{url}/blog/999/events/").status_code == 404


def test_a_thousand_idle_pages(server):
    """1000 open pages on one uvicorn worker, five times: every one hears a like
    published once, the server holds under 30 threads while they wait, and
    once they close no watcher or Redis subscription is left. After the first
    thousand, memory grows by more than 2% in at most one round: the allocator
    keeps the arenas it grows, and it grows them in one step of 4-7% at a
    round it cannot be told (seen at the second, third and fifth); a leak
    would grow every round."""
    url, process, redis = server

    async def round_of_pages():
        limits = httpx2.Limits(max_connections=1000)
        async with httpx2.AsyncClient(timeout=30, limits=limits) as client:
            streams = await asyncio.gather(
                *(open_events(client, url) for _ in range(1000))
            )
            firsts = await asyncio.gather(*(next_count(lines) for _, lines in streams))
            assert watchers(url) == 1000
            if redis:  # one subscription for the process, not one per page
                assert redis.subscribers(f"blog:likes:{POST}") == 1
            threads = group_usage(process.pid)[1]
            new = await asyncio.to_thread(like, url)
            heard = await asyncio.gather(*(next_count(lines) for _, lines in streams))
            for response, _ in streams:
                await response.aclose()
        assert set(firsts) == {new - 1}
        assert heard == [new] * 1000
        assert threads < 30
        deadline = time.monotonic() + 5
        while watchers(url) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert watchers(url) == 0
        if redis:
            assert redis.subscribers(f"blog:likes:{POST}") == 0
        return group_usage(process.pid)[0]

    rss = [group_usage(process.pid)[0]]
    for _ in range(5):
        rss.append(asyncio.run(round_of_pages()))
    print(f"\nRSS before and after each thousand pages, MiB: {rss}")
    grew = [after / before for before, after in itertools.pairwise(rss[1:])]
    assert sum(growth > 1.02 for growth in grew) <= 1, grew


def test_a_like_crosses_processes_through_redis(redis):
    """Two uvicorn processes share one Redis: a like POSTed to one reaches a
    page connected to the other within 500 ms."""
    env = {"REDIS_URL": redis.url}
    with (
        serve_process("uvicorn", env=env) as (one, _),
        serve_process("uvicorn", env=env) as (other, _),
    ):

        async def scenario():
            async with httpx2.AsyncClient(timeout=10) as client:
                _, lines = await open_events(client, other)
                first = await next_count(lines)
                liked = time.monotonic()
                new = await asyncio.to_thread(like, one)
                assert await next_count(lines) == new == first + 1
                return time.monotonic() - liked

        assert asyncio.run(scenario()) < 0.5
        assert redis.subscribers(f"blog:likes:{POST}") == 0


def test_redis_down_and_back(redis):
    """With Redis stopped, a page's stream answers 503 JSON at once, and likes
    still succeed and are counted; once Redis is back, new pages get events
    again without restarting the server."""
    with serve_process("uvicorn", env={"REDIS_URL": redis.url}) as (url, _):
        before = like(url)
        redis.stop()
        try:
            started = time.monotonic()
            refused = httpx2.get(f"{url}/blog/{POST}/events/", timeout=10)
            assert time.monotonic() - started < 1.5
            assert refused.status_code == 503
            assert "unavailable" in refused.json()["error"]
            assert like(url) == before + 1
        finally:
            redis.start()

        async def scenario():
            async with httpx2.AsyncClient(timeout=10) as client:
                _, lines = await open_events(client, url)
                assert await next_count(lines) == before + 1
                new = await asyncio.to_thread(like, url)
                assert await next_count(lines) == new == before + 2

        asyncio.run(scenario())


def test_the_blog_first_page_is_cached_in_redis(redis):
    """With REDIS_URL, the blog's first page is kept in Redis through Django's
    cache API for 5 s (BLOG_PAGE_CACHE_SECONDS) and served from there: a like
    meanwhile does not show on it until the entry goes. Other pages are not
    cached."""
    key = ":1:blog:first-page"
    redis.command("DEL", key)
    with serve_process("uvicorn", env={"REDIS_URL": redis.url}) as (url, _):
        first = httpx2.get(f"{url}/blog/")
        assert first.status_code == 200
        assert redis.command("EXISTS", key) == "1"
        assert 0 < int(redis.command("TTL", key)) <= 5
        post = int(re.search(r'href="/blog/(\d+)/"', first.text).group(1))
        like(url, post)
        assert httpx2.get(f"{url}/blog/").text == first.text  # from the cache
        redis.command("DEL", key)
        assert httpx2.get(f"{url}/blog/").text != first.text  # the new count
        httpx2.get(f"{url}/blog/?page=2")
        assert redis.command("KEYS", "*blog*").split() == [key]


@pytest.mark.parametrize(
    ("server_name", "pages"),
    [("uvicorn", 1000), ("gunicorn-uvicorn", 300), ("gunicorn-asgi", 300),
     ("granian", 300), ("hypercorn-single", 300)],
)  # fmt: skip
def test_sigterm_ends_every_open_stream_and_the_server_within_5_s(server_name, pages):
    """With pages open on one worker (1000 on uvicorn, 300 on the others),
    SIGTERM ends every page's stream with a last `reconnect` event, and the
    server exits within 5 s. uvicorn then re-raises SIGTERM, as it does after
    any clean stop, so its status is -15; the others exit 0. (That the
    lifespan shutdown runs is tests/test_servers.py's.)"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    extra = ("--workers", "1") if server_name == "gunicorn-uvicorn" else ()
    with serve_process(server_name, *extra, env=QUICK_HEARTBEAT) as (url, process):

        async def scenario():
            limits = httpx2.Limits(max_connections=pages)
            async with httpx2.AsyncClient(timeout=30, limits=limits) as client:
                streams = await asyncio.gather(
                    *(open_events(client, url) for _ in range(pages))
                )
                await asyncio.gather(*(next_count(lines) for _, lines in streams))
                os.kill(process.pid, signal.SIGTERM)
                stopping = time.monotonic()

                async def rest(lines):
                    return [line async for line in lines]

                async with asyncio.timeout(5):
                    tails = await asyncio.gather(*(rest(lines) for _, lines in streams))
                return tails, stopping

        tails, stopping = asyncio.run(scenario())
        status = process.wait(timeout=max(0.1, stopping + 5 - time.monotonic()))
        seconds = time.monotonic() - stopping
        log = output(process)
    assert all("event: reconnect" in tail for tail in tails)
    assert all("retry: 500" in tail for tail in tails)
    assert seconds < 5
    assert status == (-signal.SIGTERM if server_name == "uvicorn" else 0), log[-2000:]


def caught_signals(pid):
    """The signals process `pid` has a handler for (its SigCgt mask)."""
    with open(f"/proc/{pid}/status") as status:
        mask = int(
            next(line for line in status if line.startswith("SigCgt:")).split()[1], 16
        )
    return {number for number in range(1, 65) if mask >> (number - 1) & 1}


def spawned_workers(pid):
    """The pids of the worker processes `pid` spawned (not its resource tracker)."""
    with open(f"/proc/{pid}/task/{pid}/children") as found:
        children = [int(child) for child in found.read().split()]
    return [
        child
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_hypercorn_keeps_open_streams_after_sigterm():
    """The known exception, Hypercorn with its default one worker: the
    application runs in a child process that has no SIGTERM handler (the
    parent has one, and only sets an event the child polls), so leanasgi's
    stop hook is never called; and the child's server.wait_closed() waits
    for every open connection before the graceful timeout starts (on Python
    3.12.1 and later; pgjones/hypercorn#308). 3 s after SIGTERM every page's
    stream still sends heartbeats, and the server still runs. With
    `--workers 0` it ends them (the test above)."""
    with serve_process("hypercorn", env=QUICK_HEARTBEAT) as (url, process):
        (child,) = spawned_workers(process.pid)
        assert signal.SIGTERM in caught_signals(process.pid)
        assert signal.SIGTERM not in caught_signals(child)

        async def scenario():
            async with httpx2.AsyncClient(timeout=30) as client:
                streams = await asyncio.gather(
                    *(open_events(client, url) for _ in range(20))
                )
                await asyncio.gather(*(next_count(lines) for _, lines in streams))
                os.kill(process.pid, signal.SIGTERM)
                await asyncio.sleep(3)

                async def heartbeat(lines):
                    async with asyncio.timeout(2):
                        async for line in lines:
                            if line == ": heartbeat":
                                return True
                    return False

                return await asyncio.gather(*(heartbeat(lines) for _, lines in streams))

        assert asyncio.run(scenario()) == [True] * 20
        assert process.poll() is None
        os.killpg(process.pid, signal.SIGKILL)  # rather than wait for it
