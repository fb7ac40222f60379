"""Say-after, upstream and fan-out views, in sync/async pairs.

The network code never sees a request: these views validate, work out where
the calls go (a Target), call one fan-out once and answer. naive.py is the
fan-out as the 2020 posts write it; bounded.py and blocking.py are
the ones a server can run.
"""

import asyncio
import json
import time

import httpx2
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse

from common.addresses import Target, this_server
from common.demos import harmful_demo, slow_demo
from common.forms import invalid_query
from common.streams import until_stop

from . import blocking, bounded, fail_fast, naive
from .forms import FanOutForm, SayAfterForm, UpstreamForm

# -- say-after ----------------------------------------------------------------


@slow_demo
def say_after_sync(request):
    """Sleep `delay` seconds with time.sleep, then answer `word`.

    Under WSGI the sleep holds a worker thread; under ASGI Django runs this view
    in a thread of its own, so other requests go on meanwhile.
    """
    form = SayAfterForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    time.sleep(form.cleaned_data["delay"])
    return JsonResponse({"saying": form.cleaned_data["word"]})


async def say_after_async(request):
    """Wait `delay` seconds with asyncio.sleep, then answer `word`.

    The wait holds no thread on this project's ASGI handler (leanasgi/;
    Django's stock handler holds one per request): one event loop serves
    thousands of these at once. Use it for anything that mostly waits on I/O.
    """
    form = SayAfterForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    await asyncio.sleep(form.cleaned_data["delay"])
    return JsonResponse({"saying": form.cleaned_data["word"]})


# -- the upstream the fan-outs call --------------------------------------------


@slow_demo
def upstream_sync(request):
    """A slow service written the blocking way: time.sleep, then its task_id.

    Calling it from this same server is the 2020 "Django 3.1 Async" post's
    self-call (see the pitfalls).
    """
    form = UpstreamForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    time.sleep(form.cleaned_data["delay"])
    return JsonResponse({**form.cleaned_data, "view": "sync"})


async def upstream_async(request):
    """The same slow service, waiting with asyncio.sleep: the default upstream.

    On the lean ASGI handler it holds no thread while it waits, so a fan-out of
    100 calls to it costs the server almost nothing.
    """
    form = UpstreamForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    await asyncio.sleep(form.cleaned_data["delay"])
    return JsonResponse({**form.cleaned_data, "view": "async"})


# -- where the fan-outs call ------------------------------------------------------


def upstream_target(request):
    """AGGREGATOR_UPSTREAM_URL, else this server's own async upstream endpoint."""
    if settings.AGGREGATOR_UPSTREAM_URL:
        return Target(settings.AGGREGATOR_UPSTREAM_URL)
    return this_server(request, "aggregator:upstream_async")


# -- fan-out: n calls of `delay` seconds, four ways ----------------------------


def fan_out_answer(variant, form, started, results, partial=True):
    """The JSON every variant answers: 200 if any call succeeded (every call,
    when a `partial` answer is no answer), else 504 when all that failed
    timed out and 502 otherwise."""
    errors = [result for result in results if not result.ok]
    status = 200
    if errors and (len(errors) == len(results) or not partial):
        status = 504 if all(result.timed_out for result in errors) else 502
    return JsonResponse(
        {
            "variant": variant,
            **form.cleaned_data,
            "elapsed": round(time.monotonic() - started, 3),
            "errors": len(errors),
            "results": [result.as_json() for result in results],
        },
        status=status,
    )


@harmful_demo
async def fan_out_naive(request):
    """All n calls at once, as the 2020 posts write it (naive.py).

    As fast as fan_out_async while every call answers. When one fails, gather
    raises and the others' answers are lost; a call that hangs holds the
    answer for its whole read timeout. Compare docs/fan-out.md.
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    answer = {"variant": "naive", **form.cleaned_data}
    try:
        values = await naive.gather(upstream_target(request), **form.cleaned_data)
    except (httpx2.HTTPError, ValueError) as exc:
        answer["elapsed"] = round(time.monotonic() - started, 3)
        answer["error"] = (
            f"a call failed ({exc.__class__.__name__}): gather raised, and the"
            " answers of the other calls were lost"
        )
        return JsonResponse(answer, status=502)
    answer["elapsed"] = round(time.monotonic() - started, 3)
    answer["results"] = [
        {"task_id": task_id, "value": value} for task_id, value in enumerate(values)
    ]
    return JsonResponse(answer)


async def fan_out_async(request):
    """All n calls at once with a shared httpx2.AsyncClient.

    The total time is that of the slowest call, not the sum: the reason to
    write an async view. No thread is held while the calls are in flight.
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    target = upstream_target(request)
    results = await bounded.gather(target, **form.cleaned_data)
    return fan_out_answer("async", form, started, results)


async def fan_out_fail_fast(request):
    """All n calls in a TaskGroup (fail_fast.py): every answer, or a 502 the
    moment one call fails, with the others cancelled."""
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    target = upstream_target(request)
    results = await fail_fast.fan_out(target, **form.cleaned_data)
    return fan_out_answer("fail-fast", form, started, results, partial=False)


def fan_out_sync(request):
    """The same n calls one after another with httpx2.Client.

    The time is the sum of the calls. Simple and fine for one or two calls;
    for ten it is ten times the wait.
    """
    return sync_fan_out(request, "sync", blocking.loop_httpx)


def fan_out_requests(request):
    """The sync loop with requests, where most sync code starts: as slow as httpx2's."""
    return sync_fan_out(request, "requests", blocking.loop_requests)


def fan_out_threads(request):
    """The calls on the process's shared thread pool: concurrent like async.

    The sync way to overlap I/O. Every request shares AGGREGATOR_THREADS
    workers, so the calls in flight are bounded, and each costs a thread.
    """
    return sync_fan_out(request, "threads", blocking.thread_pool)


@slow_demo
def sync_fan_out(request, variant, fan_out):
    """The sync variants' shared body: validate, call `fan_out`, answer.

    Under ASGI, `client_gone` (set by mysite/asgi.py when the client hangs up)
    lets the fan-out stop early: nothing can interrupt a sync view's thread.
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    gone = getattr(request, "scope", {}).get("client_gone")
    results = fan_out(upstream_target(request), **form.cleaned_data, gone=gone)
    return fan_out_answer(variant, form, started, results)


async def fan_out_stream(request):
    """The async fan-out as NDJSON: each result the moment it arrives, then a summary.

    The reader sees the first answer after the fastest call, not the slowest.
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    target = upstream_target(request)

    async def lines():
        errors = 0
        async for result in bounded.as_completed(target, **form.cleaned_data):
            errors += not result.ok
            yield json.dumps(result.as_json()) + "\n"
        elapsed = round(time.monotonic() - started, 3)
        summary = {"variant": "stream", **form.cleaned_data}
        summary.update(elapsed=elapsed, errors=errors)
        yield json.dumps({"summary": summary}) + "\n"

    # Told to stop, the server ends the stream with a line that says so.
    stopped = json.dumps({"stopped": "the server is stopping: ask again"}) + "\n"
    response = StreamingHttpResponse(
        until_stop(lines(), stopped), content_type="application/x-ndjson"
    )
    response["X-Accel-Buffering"] = "no"  # ask proxies not to hold lines back
    return response
