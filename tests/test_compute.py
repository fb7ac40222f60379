"""A view that computes ~50 ms, against real servers: inside `async def` it
stalls every request on the worker; handed to a thread, or written as a sync
view, the trivial requests beside it wait only for the GIL. Two clients
compute back to back while one probe sends trivial requests for 3 s."""

import statistics

import pytest
from django.urls import reverse

from bench.cpu import beside
from harness.servers import serve

pytestmark = pytest.mark.slow  # each test starts real processes


@pytest.fixture(scope="module")
def uvicorn():
    with serve("uvicorn") as url:
        beside(url, reverse("aggregator:compute_thread") + "?ms=50", seconds=1)
        yield url


def compute(way):
    return reverse(f"aggregator:compute_{way}") + "?ms=50"


def test_computing_on_the_loop_stalls_the_requests_beside_it(uvicorn):
    """The pitfall: a trivial request waits for the computes ahead of it on
    the loop: more than one whole compute, at the median."""
    measured = beside(uvicorn, compute("loop"))
    print("FIGURE uvicorn, async view computing on the loop:", measured.line())
    assert measured.computed > 20
    assert statistics.median(measured.probes) > 50, measured.line()


@pytest.mark.parametrize("way", ["thread", "sync"])
def test_computing_in_a_thread_leaves_the_loop_free(uvicorn, way):
    """In a thread, from an async view or as a sync view, a trivial request
    waits only for a few GIL switches: under half a compute, at the median."""
    measured = beside(uvicorn, compute(way))
    print(f"FIGURE uvicorn, {way}:", measured.line())
    assert measured.computed > 20
    assert statistics.median(measured.probes) < 40, measured.line()


def test_on_gunicorn_threads_share_the_gil_the_same_way():
    """WSGI, one worker with 8 threads: no loop to stall, but each request
    changes threads more often, so the trivial ones wait more GIL turns
    than on uvicorn; still under three computes at the median."""
    with serve("gunicorn", "--workers", "1", "--threads", "8") as url:
        measured = beside(url, compute("sync"))
    print("FIGURE gunicorn, 1 worker x 8 threads, sync view:", measured.line())
    assert measured.computed > 20
    assert statistics.median(measured.probes) < 150, measured.line()


@pytest.mark.parametrize("way", ["loop", "thread", "sync"])
def test_the_work_is_bounded(client, way):
    """More than COMPUTE_MAX_MS of work is refused with a 400 that says so."""
    response = client.get(reverse(f"aggregator:compute_{way}") + "?ms=100000")
    assert response.status_code == 400
    assert "1 to 200" in str(response.json())
