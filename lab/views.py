"""The live lab: this server fires requests at itself and streams what happens.

A browser cannot show concurrency by sending the requests itself: Chromium
opens at most 6 HTTP/1.1 connections per host, so a page would draw its own
queue. The runner sends them from the server, on loopback, and streams each
request's start and end, and the meter, as server-sent events.
"""

import asyncio
import dataclasses
import json
import math
import statistics
import time
from urllib.parse import urlencode

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import render

from aggregator.addresses import this_server
from answers.errors import invalid_query
from answers.streams import until_stop

from . import client, meter
from .experiments import EXPERIMENTS
from .forms import RunForm

METER_EVERY = 0.1  # seconds between meter samples


def lab(request):
    """The page: pick an experiment, n and delay, press Run, watch it draw.

    /lab/?experiment=say-after&n=50&delay=1&run=1 starts a run on load.
    """
    return render(request, "lab/lab.html", {"experiments": EXPERIMENTS.values()})


async def meter_now(request):
    """The meter, once, as JSON: threads, other requests in flight, loop lag."""
    return JsonResponse(await meter.sample())


class OneRun:
    """One run at a time in this process: a run turns one request into hundreds.

    Taken for at most the run's deadline, so a run whose stream never started
    (the client left before the first byte) cannot keep the lab busy for good.
    """

    def __init__(self):
        self.until = 0.0

    def busy_for(self):
        return max(self.until - time.monotonic(), 0)

    def take(self):
        self.until = time.monotonic() + settings.LAB_DEADLINE + 1

    def release(self):
        self.until = 0.0


one_run = OneRun()


async def run(request):
    """Run one experiment and stream it as server-sent events.

    Every request's start and end, a meter sample every 100 ms, and a summary
    per lane when done. A client that goes away cancels the run and every
    request in it; a run past LAB_DEADLINE ends its requests as timeouts.
    """
    form = RunForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    if not isinstance(request, ASGIRequest):
        return JsonResponse(
            {
                "error": "the lab streams as it runs, which needs an ASGI server "
                "(make run, make uvicorn, make serve)"
            },
            status=503,
        )
    if busy := one_run.busy_for():
        return JsonResponse(
            {"error": "a lab run is in progress on this server; one at a time"},
            status=429,
            headers={"Retry-After": str(math.ceil(busy))},
        )
    experiment = EXPERIMENTS[form.cleaned_data["experiment"]]
    n, delay = form.cleaned_data["n"], form.cleaned_data["delay"]
    lanes = [
        (lane, [lane_target(request, lane, delay)] * n) for lane in experiment.lanes
    ]
    one_run.take()
    # Told to stop mid-run, the server ends the stream with `restart`; the
    # page sends the same run again (to another server, behind a proxy).
    stream = until_stop(sse_events(experiment, n, delay, lanes), RESTART)
    return StreamingHttpResponse(
        stream,
        content_type="text/event-stream",
        # No cache and no proxy buffering: each event is worth sending at once.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def lane_target(request, lane, delay):
    """The lane's view on this server, with its query."""
    target = this_server(request, lane.url_name)
    query = urlencode(lane.params(delay))
    return dataclasses.replace(
        target, url=f"{target.url}?{query}" if query else target.url
    )


async def sse_events(experiment, n, delay, lanes):
    """The run as server-sent events; the lanes run one after another."""
    try:
        yield sse(
            "run",
            {
                "experiment": experiment.name,
                "n": n,
                "delay": delay,
                "lanes": [
                    {"name": lane.name, "label": lane.label} for lane, _ in lanes
                ],
            },
        )
        summary = {}
        async for kind, data in run_and_measure(lanes):
            if kind == "lane-done":
                summary[data["lane"]] = data
            yield sse(kind, data)
        slowest = max(lane["slowest_ms"] for lane in summary.values())
        yield sse("done", {"lanes": summary, "slowest_ms": slowest})
    finally:
        one_run.release()


def sse(kind, data):
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


RESTART = sse("restart", {"reason": "the server is stopping", "retry_ms": 1000})


async def run_and_measure(lanes):
    """Yield (kind, data): the lanes' requests, and the meter all along."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.LAB_DEADLINE
    events = asyncio.Queue()
    now = {"lane": lanes[0][0].name, "began": loop.time()}

    def since_lane_began():
        return round((loop.time() - now["began"]) * 1000, 1)

    async def run_lanes():
        try:
            await each_lane()
        finally:
            events.put_nowait(None)  # done, or failed: the loop below stops

    async def each_lane():
        for lane, targets in lanes:
            now.update(lane=lane.name, began=loop.time())
            events.put_nowait(("lane", {"lane": lane.name}))
            started, ended = {}, []
            left = deadline - loop.time()
            async for timed in client.timed_requests(targets, left):
                if timed.ended:
                    ended.append((started[timed.index], timed.at_ms))
                else:
                    started[timed.index] = timed.at_ms
                if timed.ended:
                    events.put_nowait(("end", {"lane": lane.name, **vars(timed)}))
                else:
                    at = {"lane": lane.name, "index": timed.index, "at_ms": timed.at_ms}
                    events.put_nowait(("start", at))
            # One more meter sample for this lane: the one that saw its end.
            await asyncio.sleep(METER_EVERY * 1.5)
            events.put_nowait(("lane-done", lane_summary(lane, ended)))

    async def sample_meter():
        # Each 100 ms sleep is its own lag probe: woken late by a view that
        # blocked the loop, it reports how late at once, block included.
        while True:
            due = loop.time() + METER_EVERY
            await asyncio.sleep(METER_EVERY)
            lag_ms = round(max(loop.time() - due, 0) * 1000, 1)
            sample = meter.snapshot(lag_ms)
            events.put_nowait(
                ("meter", {"lane": now["lane"], "t": since_lane_began(), **sample})
            )

    tasks = [asyncio.create_task(run_lanes()), asyncio.create_task(sample_meter())]
    try:
        while (event := await events.get()) is not None:
            yield event
        tasks[0].result()  # a lane that failed raises here, not silently
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def lane_summary(lane, spans):
    """Slowest, median, wall time and requests per second of one lane."""
    durations = [end - start for start, end in spans]
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return {
        "lane": lane.name,
        "slowest_ms": round(max(durations), 1),
        "median_ms": round(statistics.median(durations), 1),
        "wall_ms": round(wall, 1),
        "per_second": round(len(spans) / max(wall / 1000, 0.001), 1),
    }
