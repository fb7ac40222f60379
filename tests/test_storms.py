"""Clients that give up, floods and shutdowns, against a real uvicorn process.

A fan-out that a hundred clients abandon must cost the server nothing once
they are gone: it answers again at once, its threads and CPU fall back, and a
SIGTERM still stops it. The calls in flight never pass their bound.
"""

import asyncio
import json
import os
import resource
import signal
import threading
import time

import httpx2
import pytest
from django.conf import settings

from bench import load
from bench.storm import abandon, cpu_seconds
from harness.sampler import group_usage
from harness.servers import output, serve, serve_process
from harness.upstreams import FakeUpstream
from tests.test_servers import timed_gets

pytestmark = pytest.mark.slow  # each test starts real processes

STORM = "n=20&delay=3"


def threads(process):
    return group_usage(process.pid)[1]


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("way", ["bounded", "stream", "threads"])
def test_abandoned_fan_outs_cost_nothing_once_the_clients_are_gone(way):
    """100 clients hang up on 20-call fan-outs after 0.5 s. Right after, 20
    concurrent 1 s say-sync requests all answer in under 2 s; within 5 s the
    threads are back within 10 of the start (the bounded pools' own threads
    aside) and the CPU is near idle."""
    with serve_process("uvicorn") as (url, process):
        httpx2.get(f"{url}/aggregator/{way}/?n=1&delay=0", timeout=10)
        before = threads(process)
        finished = asyncio.run(
            abandon(f"{url}/aggregator/{way}/?{STORM}", clients=100, after=0.5)
        )
        hung_up = time.monotonic()
        assert finished == 0  # every one was abandoned mid-fan-out

        path = "/api/say-sync?delay=1&word=hi"
        responses, elapsed = asyncio.run(timed_gets(url, path, 20))
        assert [r.status_code for r in responses] == [200] * 20
        assert 1 <= elapsed < 2

        # The bounded pools stay: the handler's idle request threads (the 20
        # say-syncs used 20) and, for that way, the fan-out's workers.
        pool = settings.LEANASGI_IDLE_THREADS
        pool += settings.AGGREGATOR_THREADS if way == "threads" else 0
        settled = wait_for(
            lambda: threads(process) <= before + 10 + pool,
            timeout=5 - (time.monotonic() - hung_up),
        )
        assert settled, f"{threads(process)} threads, {before} before the storm"
        cpu = cpu_seconds(process.pid)
        time.sleep(1)
        assert cpu_seconds(process.pid) - cpu < 0.1  # under 10% of a core


def test_a_thousand_fan_outs_at_once_all_answer_by_the_deadline():
    """1000 fan-outs of 10 one-second calls at once: every one answers by the
    deadline (5 s here, plus the time to accept a thousand connections), with
    no call left waiting in the client's pool until it timed out; the bound of
    100 calls in flight serves about 100 calls a second, and no more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        with serve("raw-asgi") as upstream:
            env = {
                "AGGREGATOR_UPSTREAM_URL": upstream + "/",
                "AGGREGATOR_DEADLINE": "5",
            }
            with serve_process("uvicorn", env=env) as (url, _):
                answers = asyncio.run(
                    load.get_all(f"{url}/aggregator/bounded/?n=10&delay=1", 1000)
                )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert {status for status, _, _ in answers} <= {200, 504}
    assert max(seconds for _, seconds, _ in answers) < 5 + 3
    bodies = [json.loads(body) for _, _, body in answers]
    assert max(body["elapsed"] for body in bodies) < 5 + 1
    entries = [entry for body in bodies for entry in body["results"]]
    errors = {entry["error"] for entry in entries if "error" in entry}
    assert errors <= {"timeout: not done within 5.0 s"}
    done = sum("value" in entry for entry in entries)
    assert 250 <= done <= 100 * 5 + 100


async def fan_out_bodies(url, path, count):
    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one():
            started_at = time.monotonic()
            response = await client.get(path)
            return response, time.monotonic() - started_at

        return await asyncio.gather(*(one() for _ in range(count)))


@pytest.fixture(scope="module")
def counting_upstream():
    with FakeUpstream() as upstream:
        yield upstream


@pytest.mark.parametrize(
    ("way", "bound"),
    [
        ("bounded", "AGGREGATOR_MAX_IN_FLIGHT"),
        ("stream", "AGGREGATOR_MAX_IN_FLIGHT"),
        ("threads", "AGGREGATOR_THREADS"),
    ],
)
def test_the_upstream_never_sees_more_calls_than_the_bound(
    counting_upstream, way, bound
):
    """4 concurrent fan-outs of 10 calls with a bound of 5: the upstream sees
    exactly 5 calls at once at the most, and every call still succeeds."""
    counting_upstream.most_in_flight = 0
    env = {bound: "5", "AGGREGATOR_UPSTREAM_URL": counting_upstream.url + "/json"}
    with serve("uvicorn", env=env) as url:
        path = f"/aggregator/{way}/?n=10&delay=0.2"
        answers = asyncio.run(fan_out_bodies(url, path, 4))
    assert [response.status_code for response, _ in answers] == [200] * 4
    assert counting_upstream.most_in_flight == 5
    # 40 calls of 0.2 s, 5 at a time: at least 8 rounds.
    assert max(seconds for _, seconds in answers) >= 8 * 0.2


def test_sigterm_in_a_storm_stops_the_server_within_the_graceful_timeout():
    """SIGTERM while 100 fan-outs are in flight: the server exits within its
    graceful timeout (2 s) plus 2 s, after the lifespan shutdown closed its
    shared clients."""
    with serve_process("uvicorn", "--timeout-graceful-shutdown", "2") as (
        url,
        process,
    ):
        storm = threading.Thread(
            target=asyncio.run,
            args=(abandon(f"{url}/aggregator/bounded/?{STORM}", clients=100, after=8),),
            daemon=True,
        )
        storm.start()
        time.sleep(1)
        stopping = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        assert time.monotonic() - stopping < 2 + 2
        log = output(process)
    assert "Application shutdown complete." in log
    assert "lifespan" not in log.lower().replace("application shutdown", "")
