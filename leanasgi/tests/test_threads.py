"""One rule for threads, against a real uvicorn with DEBUG on: a request's sync
work, before, during and after its view, runs on its own borrowed thread; no
two requests in flight share one; a thread is lent again only clean."""

import asyncio
import json
import threading
import time

import httpx2
import pytest

from .server import get_all, threads, uvicorn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    # A cap past the largest burst here (400): what the cap does is
    # tests/test_cap.py's.
    with uvicorn({"LEANASGI_MAX_THREADS": "500"}) as (url, process):
        yield url, process


def names(body):
    """The thread names one request reported, item by item."""
    items = body if isinstance(body, list) else [body]
    return {item["thread"] for item in items}


def assert_one_thread_each(bodies):
    """Each request ran on one lent thread, and no two requests on the same."""
    used = [names(body) for body in bodies]
    assert all(len(each) == 1 for each in used), used
    flat = [name for each in used for name in each]
    assert all(name.startswith("request-") for name in flat), flat
    assert len(set(flat)) == len(flat), flat
    return set(flat)


def eventually(check, seconds=2.0):
    """Whether `check()` holds within `seconds`: a response's close, and what
    it logs, come after the client has the whole answer."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def assert_lent_again_clean(url, used):
    """20 overlapping sync requests start with no open connection and no
    recorded queries, some of them on the threads `used` before."""
    states = get_all(f"{url}/thread-state?delay=0.3", 20)
    assert [(s["open"], s["queries"]) for s in states] == [(False, 0)] * 20, states
    assert used & {s["thread"] for s in states}, "no thread was reused"


async def first_lines(url, count, *, hang_up=False):
    """`count` streams at once; the first line of each. Bodies that break off
    (a body that raised) are read as far as they go."""

    all_read = asyncio.Barrier(count)  # so that every stream is in flight at once

    async def one(client):
        async with client.stream("GET", url) as response:
            lines = response.aiter_lines()
            first = json.loads(await anext(lines))
            await all_read.wait()
            if not hang_up:
                try:
                    async for _ in lines:
                        pass
                except httpx2.RemoteProtocolError:
                    pass  # the connection closed without its last chunk
            return first

    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(limits=limits, timeout=10) as client:
        return await asyncio.gather(*(one(client) for _ in range(count)))


def test_a_body_that_raises_is_closed_and_hands_back_a_clean_thread(server):
    """Five streams whose async body queries then raises: each is closed
    (request_finished sent, which Django's handler skips), and the threads
    they borrowed are lent again with no connection open and no queries."""
    url, process = server
    before = get_all(f"{url}/signals")[0]
    firsts = asyncio.run(first_lines(f"{url}/stream/raises", 5))
    after = get_all(f"{url}/signals")[0]
    used = assert_one_thread_each(firsts)
    assert eventually(lambda: process.log().count("the body failed on purpose") >= 5)
    # The five, and the first reading's own finish.
    assert after["finished"] - before["finished"] == 5 + 1
    assert_lent_again_clean(url, used)


def test_a_receiver_that_raises_before_the_clean_up_leaves_no_dirty_thread(server):
    """Ten requests whose request_finished receiver raises before Django's
    clean-up can run: the handler cleans each thread before lending it again."""
    url, process = server
    used = assert_one_thread_each(get_all(f"{url}/finish-raises", 10))
    assert eventually(
        lambda: process.log().count("a receiver failed on purpose") >= 10
    ), process.log()[-2000:]
    assert_lent_again_clean(url, used)


def test_djangos_handler_leaves_a_body_that_raised_unclosed():
    """The control, on Django's own handler: no request_finished for a body
    that raised."""
    with uvicorn({"LEANASGI_STOCK": "1"}) as (url, _):
        before = get_all(f"{url}/signals")[0]
        asyncio.run(first_lines(f"{url}/stream/raises", 5))
        after = get_all(f"{url}/signals")[0]
    assert after["finished"] - before["finished"] == 0 + 1


def test_async_bodies_of_thread_sensitive_calls_never_share_a_thread(server):
    """50 async streams at once, each making four queries from its body after
    the view returned: each stream on a thread of its own, none shared."""
    url, _ = server
    bodies = get_all(f"{url}/stream/queries?n=4&pause=0.1", 50)
    assert [len(body) for body in bodies] == [4] * 50
    used = assert_one_thread_each(bodies)
    assert_lent_again_clean(url, used)


def test_a_sync_iterator_is_read_on_the_requests_thread(server):
    """20 streams over sync iterators at once: Django reads each in one sync
    call, on that request's own thread."""
    url, _ = server
    used = assert_one_thread_each(get_all(f"{url}/stream/sync", 20))
    assert_lent_again_clean(url, used)


def test_a_file_response_is_read_and_closed_on_the_requests_thread(server):
    """20 FileResponses at once: each file is read and closed on its
    request's own thread."""
    url, _ = server

    async def fetch_all():
        async with httpx2.AsyncClient(timeout=10) as client:
            return await asyncio.gather(
                *(client.get(f"{url}/file?id={key}") for key in range(20))
            )

    bodies = [json.loads(answer.text) for answer in asyncio.run(fetch_all())]
    used = assert_one_thread_each(bodies)
    for key, body in enumerate(bodies):
        closed = get_all(f"{url}/file/closed-by?id={key}")[0]
        assert closed["thread"] == body["thread"]
    assert_lent_again_clean(url, used)


def test_a_client_that_hangs_up_mid_stream_leaves_its_thread_clean(server):
    """20 clients read one line of a long stream of queries and hang up: the
    threads their streams borrowed are lent again clean."""
    url, process = server
    before = threads(process)
    firsts = asyncio.run(
        first_lines(f"{url}/stream/queries?n=1000&pause=0.05", 20, hang_up=True)
    )
    used = assert_one_thread_each(firsts)
    time.sleep(0.5)  # the server sees the hang-ups
    assert threads(process) <= before + 16
    assert_lent_again_clean(url, used)


@pytest.mark.parametrize(("stock", "added"), [(False, (0, 3)), (True, (250, 310))])
def test_waiting_async_requests_hold_no_thread(stock, added):
    """While 300 async 2 s waits are in flight the lean handler adds at most 3
    threads; Django's own handler adds about one per waiting request."""
    with uvicorn({"LEANASGI_STOCK": "1" if stock else "0"}) as (url, process):
        before = threads(process)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.wait(0.1):
                peak.append(threads(process))

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        try:
            get_all(f"{url}/wait?delay=2", 300)
        finally:
            done.set()
            sampler.join()
        # One at a time would take 600 s, 50 at a time 12 s: under 6 s means
        # they waited side by side, with room for a loaded machine's client.
        assert time.monotonic() - started < 6
    assert added[0] <= max(peak) - before <= added[1], (before, max(peak))


def test_concurrent_sync_views_never_share_a_thread(server):
    """50 concurrent 0.5 s sync views run side by side on 50 distinct threads."""
    url, _ = server
    started = time.monotonic()
    assert_one_thread_each(get_all(f"{url}/thread-state?delay=0.5", 50))
    assert time.monotonic() - started < 1.0


def test_one_request_runs_all_its_sync_calls_on_one_thread(server):
    """Three sync calls of one async view, a query among them, share a thread
    kept across a 0.5 s wait; 20 such requests at once use 20 threads."""
    url, _ = server
    answers = get_all(f"{url}/sync-calls?wait=0.5", 20)
    per_request = [set(body["threads"]) for body in answers]
    assert all(len(used) == 1 for used in per_request)
    assert len(set().union(*per_request)) == 20


def test_a_busy_thread_is_never_lent_to_another_request(server):
    """A client hangs up on a 3 s sync view; 10 sync requests sent right after
    all answer at once, none on the abandoned view's thread."""
    url, _ = server

    async def abandon():
        _, writer = await asyncio.open_connection(*url[7:].split(":"))
        writer.write(b"GET /thread-state?delay=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.3)
        writer.close()

    asyncio.run(abandon())
    started = time.monotonic()
    # Each holds its thread 0.2 s, so that the ten are in flight together.
    assert_one_thread_each(get_all(f"{url}/thread-state?delay=0.2", 10))
    assert time.monotonic() - started < 0.7


def test_idle_threads_are_bounded_after_a_burst(server):
    """After 400 concurrent 0.5 s sync views (400 threads at once), the count
    falls back to at most the idle pool (16) over what it was."""
    url, process = server
    before = threads(process)
    assert_one_thread_each(get_all(f"{url}/thread-state?delay=0.5", 400))
    deadline = time.monotonic() + 3
    while threads(process) > before + 16:
        assert time.monotonic() < deadline, threads(process)
        time.sleep(0.1)


def test_every_request_sends_started_and_finished_once():
    """request_started and request_finished receivers run once per request:
    50 async and 50 sync requests, 100 of each signal. (A server of its own:
    a view abandoned by an earlier test may still finish meanwhile.)"""
    with uvicorn() as (url, _):
        count_signals(url)


def count_signals(url):
    before = get_all(f"{url}/signals")[0]
    get_all(f"{url}/wait", 50)
    get_all(f"{url}/thread-state", 50)
    time.sleep(0.5)  # a response's close, and so its finish, follows its answer
    after = get_all(f"{url}/signals")[0]
    # Each reading counts its own start, and the previous reading's finish.
    assert after["started"] - before["started"] == 100 + 1
    assert after["finished"] - before["finished"] == 100 + 1
