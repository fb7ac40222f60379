"""The pitfalls: views written the wrong way on purpose, each beside its fix.

Each is reproduced by a test (tests/test_aggregator_servers.py) and measured
by `make figures` (docs/pitfalls.md).
"""

import asyncio
import time

from django.http import JsonResponse, StreamingHttpResponse

from answers.demos import harmful_demo
from answers.errors import invalid_query

from . import bounded
from .addresses import this_server
from .forms import FanOutForm, SayAfterForm, StreamForm
from .results import answer


@harmful_demo
async def blocking_sleep(request):
    """PITFALL: time.sleep inside `async def` stops the whole event loop.

    Every other request on this worker waits too. The fix is say_after_async:
    await asyncio.sleep, or wrap blocking code in sync_to_async.
    """
    form = SayAfterForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    time.sleep(form.cleaned_data["delay"])  # noqa: ASYNC251 -- the pitfall itself
    return JsonResponse({"saying": form.cleaned_data["word"]})


@harmful_demo
async def self_call(request):
    """The self-call of the 2020 post "Django 3.1 Async": an async fan-out to this same server's *sync* upstream.

    On one uvicorn worker it works (each ASGI request gets its own thread). On a
    one-thread WSGI server nobody is free to answer, and the deadline ends it.
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    target = this_server(request, "aggregator:upstream_sync")
    results = await bounded.every_result(target, **form.cleaned_data)
    return answer("self-call", form, started, results)


@harmful_demo
def stream_sync_lines(request):
    """PITFALL under ASGI: a sync generator in StreamingHttpResponse.

    Django's ASGI handler cannot iterate it on the event loop, so it reads
    it whole in a thread (and warns) before the first byte goes out: the
    client sees every line at once, after the last. Under WSGI it streams.
    """
    form = StreamForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    lines, every = form.cleaned_data["lines"], form.cleaned_data["every"]

    def produce():
        for number in range(lines):
            time.sleep(every)
            yield f"{number}\n"

    return StreamingHttpResponse(produce(), content_type="text/plain")


def stream_async_lines(request):
    """The fix under ASGI: an async generator, sent line by line as it
    yields. Under WSGI it is the one read whole."""
    form = StreamForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    lines, every = form.cleaned_data["lines"], form.cleaned_data["every"]

    async def produce():
        for number in range(lines):
            await asyncio.sleep(every)
            yield f"{number}\n"

    return StreamingHttpResponse(produce(), content_type="text/plain")
