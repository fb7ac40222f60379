"""The cap on lent threads, against a real uvicorn: past LEANASGI_MAX_THREADS
a request waits in line for a thread, at most LEANASGI_THREAD_WAIT seconds,
and its wait shows in leanasgi.stats(). Django's own handler has no cap."""

import asyncio
import time

import httpx2
import pytest

from .server import threads, uvicorn

pytestmark = pytest.mark.slow


async def overlapping(url, paths):
    """GET every path at once; (status, seconds) for each, in order."""
    limits = httpx2.Limits(max_connections=len(paths))
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:

        async def timed(path):
            started = time.monotonic()
            response = await client.get(url + path)
            return response, time.monotonic() - started

        return await asyncio.gather(*(timed(path) for path in paths))


async def while_held(url, seconds, then):
    """Hold a thread with a sync view of `seconds`; 0.3 s in, `then(client)`;
    its result once the holder has answered too."""
    holder = asyncio.ensure_future(overlapping(url, [f"/thread-state?delay={seconds}"]))
    await asyncio.sleep(0.3)
    async with httpx2.AsyncClient(timeout=5) as client:
        result = await then(client)
    await holder
    return result


def test_sync_views_past_the_cap_wait_their_turn():
    """With a cap of 8, 40 sync views of 0.5 s at once all answer 200, on at
    most 8 request threads (the process grows by at most 8 + 2), in no less
    than 40 / 8 x 0.5 = 2.5 s; an async view meanwhile answers within 1 s,
    and stats() counts the waits."""
    with uvicorn({"LEANASGI_MAX_THREADS": "8"}) as (url, process):
        before = threads(process)
        peak = before

        async def run():
            nonlocal peak
            burst = asyncio.ensure_future(
                overlapping(url, ["/thread-state?delay=0.5"] * 40)
            )
            await asyncio.sleep(1)
            async with httpx2.AsyncClient(timeout=10) as client:
                started = time.monotonic()
                trivial = await client.get(url + "/wait?delay=0")
                trivial_took = time.monotonic() - started
                mid = (await client.get(url + "/stats")).json()
            while not burst.done():
                peak = max(peak, threads(process))
                await asyncio.sleep(0.05)
            return await burst, trivial, trivial_took, mid

        started = time.monotonic()
        answers, trivial, trivial_took, mid = asyncio.run(run())
        took = time.monotonic() - started
        after = httpx2.get(url + "/stats").json()
    assert [r.status_code for r, _ in answers] == [200] * 40
    used = {r.json()["thread"] for r, _ in answers}
    assert len(used) <= 8, used
    assert peak <= before + 8 + 2, (before, peak)
    assert took >= 2.4, took
    assert trivial.status_code == 200 and trivial_took < 1, trivial_took
    assert mid["max_threads"] == 8 and mid["lent_threads"] == 8, mid
    assert mid["waiting_for_thread"] > 0, mid
    assert after["waiting_for_thread"] == 0 and after["lent_threads"] == 0, after
    assert after["waited_for_thread"] >= 32 - 1, after
    assert 1.5 <= after["longest_thread_wait"] <= 3, after
    assert after["thread_wait_timeouts"] == 0, after


def test_a_wait_past_the_bound_answers_503():
    """With a cap of 2 and a wait of 0.5 s, four sync views of 2 s at once:
    two answer 200, the two that wait answer 503 with Retry-After within
    1 s, their error named, and no traceback is logged."""
    env = {"LEANASGI_MAX_THREADS": "2", "LEANASGI_THREAD_WAIT": "0.5"}
    with uvicorn(env) as (url, process):
        answers = asyncio.run(overlapping(url, ["/thread-state?delay=2"] * 4))
        after = httpx2.get(url + "/stats").json()
        log = process.log()
    statuses = sorted(r.status_code for r, _ in answers)
    assert statuses == [200, 200, 503, 503], statuses
    refused = [(r, s) for r, s in answers if r.status_code == 503]
    assert all(s < 1 for _, s in refused), refused
    assert all(r.headers["Retry-After"] == "1" for r, _ in refused)
    assert "LEANASGI_MAX_THREADS" in refused[0][0].json()["error"]
    assert after["thread_wait_timeouts"] == 2, after
    assert "Traceback" not in log, log


def test_a_request_that_leaves_the_line_frees_its_place():
    """A client that hangs up while its request waits in line leaves no
    waiter behind and no traceback: with a cap of 1 and a wait of 1 s, a 3 s
    holder, and a request given up after 0.3 s, the next request is served
    as soon as the holder ends, and nothing waits or is lent after."""
    env = {"LEANASGI_MAX_THREADS": "1", "LEANASGI_THREAD_WAIT": "1"}
    with uvicorn(env) as (url, process):

        async def give_up(client):
            with pytest.raises(httpx2.TimeoutException):
                await client.get(url + "/thread-state?delay=0", timeout=0.3)

        asyncio.run(while_held(url, 3, give_up))
        again = httpx2.get(url + "/thread-state?delay=0", timeout=5)
        after = httpx2.get(url + "/stats").json()
        log = process.log()
    assert again.status_code == 200
    assert after["waiting_for_thread"] == 0 and after["lent_threads"] == 0, after
    assert "Traceback" not in log, log


def test_a_middleware_hook_that_waits_too_long_answers_503():
    """The wait can end in a middleware's hop, not the view: a POST's CSRF
    check parses the body on the request's thread. With a cap of 1 held by a
    2 s view and a wait of 0.5 s, that POST answers the same 503 within 1 s,
    not Django's 500, and no traceback is logged."""
    env = {"LEANASGI_MAX_THREADS": "1", "LEANASGI_THREAD_WAIT": "0.5"}
    with uvicorn(env) as (url, process):

        async def post(client):
            started = time.monotonic()
            posted = await client.post(url + "/thread-state", data={"a": "b"})
            return posted, time.monotonic() - started

        posted, took = asyncio.run(while_held(url, 2, post))
        log = process.log()
    assert posted.status_code == 503 and took < 1, (posted.status_code, took)
    assert "LEANASGI_MAX_THREADS" in posted.json()["error"]
    assert "Traceback" not in log, log


def test_a_client_that_hangs_up_frees_no_place_before_its_call_ends():
    """With a cap of 1: a client hangs up 0.3 s into a 2 s sync view, whose
    thread goes on sleeping. Its place stays taken (lent, or retired and
    stuck) until the call ends, so the next sync request waits for that,
    about 1.7 s, instead of running on a second thread at once."""
    with uvicorn({"LEANASGI_MAX_THREADS": "1"}) as (url, _):

        async def run():
            async with httpx2.AsyncClient(timeout=0.3) as client:
                with pytest.raises(httpx2.TimeoutException):
                    await client.get(url + "/thread-state?delay=2")
            await asyncio.sleep(0.3)  # the server has seen the hang-up
            async with httpx2.AsyncClient(timeout=10) as client:
                during = (await client.get(url + "/stats")).json()
                started = time.monotonic()
                answer = await client.get(url + "/thread-state?delay=0")
                return during, answer, time.monotonic() - started

        during, answer, took = asyncio.run(run())
        after = httpx2.get(url + "/stats").json()
    assert during["lent_threads"] + during["stuck_threads"] == 1, during
    assert answer.status_code == 200
    assert 1.0 <= took < 2.5, took
    assert after["stuck_threads"] == 0 and after["lent_threads"] == 0, after
