"""The pitfalls' figures for `make figures` (bench/figures.py runs them):
each wrong version beside the right one, against real server processes."""

import statistics
import time

import httpx2

from harness.servers import serve

from . import load


def naive_fan_out():
    """The 2020 posts' fan-out (/aggregator/naive/) beside the bounded one
    (/aggregator/bounded/) on one uvicorn worker: 200 fan-outs of ten
    immediate calls, 10 at a time, to this same server; then ten calls to an
    upstream where every other call fails, and to one that never answers
    (read timeout 5 s, deadline 1 s)."""
    from harness.upstreams import FakeUpstream

    lines = []
    with serve("uvicorn", "--no-access-log") as url:
        for way in ("naive", "bounded"):
            path = f"{url}/aggregator/{way}/?n=10&delay=0"
            load.run(path, concurrency=1, requests=5)
            outcome = load.run(path, concurrency=10, requests=200)
            rate = len(outcome.latencies) / outcome.elapsed
            lines.append(
                f"{way}, 200 x n=10 delay=0, 10 at a time: {rate:.0f} fan-outs/s,"
                f" {outcome.failed} failed"
            )
    with FakeUpstream() as upstream:
        for path in ("/flaky", "/hang"):
            env = {
                "AGGREGATOR_UPSTREAM_URL": upstream.url + path,
                "AGGREGATOR_READ_TIMEOUT": "5",
                "AGGREGATOR_DEADLINE": "1",
            }
            with serve("uvicorn", env=env) as url:
                for way in ("naive", "bounded"):
                    started = time.monotonic()
                    answer = httpx2.get(
                        f"{url}/aggregator/{way}/?n=10&delay=0", timeout=30
                    )
                    took = time.monotonic() - started
                    body = answer.json()
                    kept = sum("value" in r for r in body.get("results", []))
                    lines.append(
                        f"{way}, upstream {path}: HTTP {answer.status_code} after"
                        f" {took:.2f} s, {kept} of 10 answers kept"
                    )
    return lines


def fail_fast():
    """gather against TaskGroup on one uvicorn worker: ten calls to an
    upstream where call 0 fails at once and the others hang (deadline 2 s),
    through /aggregator/bounded/ and /aggregator/fail-fast/; then ten calls
    that all answer after 1 s, through each."""
    from harness.upstreams import FakeUpstream

    lines = []
    with FakeUpstream() as upstream:
        env = {
            "AGGREGATOR_UPSTREAM_URL": upstream.url + "/first-fails",
            "AGGREGATOR_DEADLINE": "2",
        }
        with serve("uvicorn", env=env) as url:
            for way in ("bounded", "fail-fast"):
                hung_up = upstream.hung_up
                started = time.monotonic()
                answer = httpx2.get(f"{url}/aggregator/{way}/?n=10", timeout=30)
                took = time.monotonic() - started
                upstream.wait_for(lambda before=hung_up: upstream.hung_up >= before + 9)
                lines.append(
                    f"{way}, call 0 fails, 1 to 9 hang: HTTP {answer.status_code}"
                    f" after {took:.2f} s; the upstream saw"
                    f" {upstream.hung_up - hung_up} calls hang up"
                )
    with serve("uvicorn") as url:
        for way in ("bounded", "fail-fast"):
            path = f"{url}/aggregator/{way}/?n=10&delay=1"
            answer = httpx2.get(path, timeout=30)
            lines.append(
                f"{way}, ten 1 s calls that answer: HTTP {answer.status_code},"
                f" elapsed {answer.json()['elapsed']:.2f} s"
            )
    return lines


def pitfalls():
    """The pitfalls table: five blocking sleeps, their async twin, the
    self-call, and ten sync views at once, on one uvicorn worker; then a sync
    and an async generator streamed, under uvicorn and under gunicorn."""
    lines = []
    with serve("uvicorn") as url:
        for label, path, count in [
            ("time.sleep in async def", "pitfalls/blocking-sleep/?delay=1&word=hi", 5),
            ("the asyncio.sleep twin", "say-after/async/?delay=1&word=hi", 5),
            ("sync upstream views", "upstream/sync/?task_id=1&delay=1", 10),
        ]:
            result = load.latencies(f"{url}/aggregator/{path}", count, count)
            lines.append(f"{label}: {count} at once: {result}")
        answer = httpx2.get(
            f"{url}/aggregator/pitfalls/self-call/?n=10&delay=1", timeout=30
        ).json()
        lines.append(
            f"self-call, n=10 delay=1: elapsed {answer['elapsed']:.2f} s, "
            f"{answer['errors']} errors"
        )
        lines += stream_lines("uvicorn", url)
    with serve("gunicorn") as url:
        lines += stream_lines("gunicorn (WSGI)", url)
    return lines


def stream_lines(server, url):
    """When the first and the last of four lines, 0.5 s apart, arrived from
    the sync and the async generator."""
    lines = []
    for kind in ("sync", "async"):
        path = f"{url}/aggregator/pitfalls/stream-{kind}/?lines=4&every=0.5"
        started, arrivals = time.monotonic(), []
        with httpx2.stream("GET", path, timeout=30) as response:
            for _ in response.iter_lines():
                arrivals.append(time.monotonic() - started)
        lines.append(
            f"{server}, {kind} generator, 4 lines 0.5 s apart: first after"
            f" {arrivals[0]:.2f} s, last after {arrivals[-1]:.2f} s"
        )
    return lines


def cpu_bound(rounds=3):
    """A view that computes 50 ms (aggregator/compute.py), two clients
    calling it back to back, while one probe sends trivial requests, one at
    a time, for 5 s: the probe's latency, on one uvicorn worker with the work
    on the loop, in a thread from an async view and as a sync view, and on
    one gunicorn worker with 8 threads (the sync view); three rounds, each
    serving both in turn, gunicorn first in the second. The probe's median
    as the median (lowest-highest) of the rounds' medians, its p99 the
    rounds' median and the fewest probes a round; then each round's."""
    from .compare import spread

    runs = {}
    for n in range(rounds):
        # Every other round serves gunicorn first, so neither is always first.
        for server in ("uvicorn", "gunicorn")[:: 1 if n % 2 == 0 else -1]:
            beside_on(server, runs)
    summary = [
        f"{label}: trivial beside them, median"
        f" {spread([m.median() for m in measured], 1)} ms,"
        f" p99 {statistics.median(m.quantile(0.99) for m in measured):.1f} ms"
        f" (at least {min(len(m.probes) for m in measured)} probes a round;"
        " under 100, the p99 is the slowest);"
        f" {statistics.median(m.computed for m in measured):.0f} computed"
        for label, measured in runs.items()
    ]
    each = [
        f"round {n}: {label}: {measured.line()}"
        for label, rounds_of in runs.items()
        for n, measured in enumerate(rounds_of, 1)
    ]
    return summary + each


def beside_on(server, runs):
    from .cpu import beside

    if server == "uvicorn":
        with serve("uvicorn") as url:
            beside(url, "/aggregator/compute/thread/?ms=50", seconds=1)  # warm up
            for way in ("loop", "thread", "sync"):
                measured = beside(url, f"/aggregator/compute/{way}/?ms=50", seconds=5)
                label = f"uvicorn, /aggregator/compute/{way}/"
                runs.setdefault(label, []).append(measured)
        return
    with serve("gunicorn", "--workers", "1", "--threads", "8") as url:
        measured = beside(url, "/aggregator/compute/sync/?ms=50", seconds=5)
        label = "gunicorn 1 x 8 threads, /aggregator/compute/sync/"
        runs.setdefault(label, []).append(measured)
