"""What the sync fan-outs (sync_loop.py, requests_loop.py, threads.py) share.

A sync call cannot be cancelled, so each checks the clock and the client's
`gone` event (leanasgi sets it when the client hangs up) between calls, and
reads its answer piece by piece so the deadline cuts off a slow sender too.
"""

import time

import httpx2
from django.conf import settings

from answers.errors import invalid_query

from . import clients
from .addresses import upstream
from .forms import FanOutForm
from .results import answer, deadline_passed, no_answer, read_answer, unreachable


def fan_out(request, way, calls):
    """A sync view's body: validate, make the calls with `calls`, answer.

    Under ASGI, `client_gone` (set by leanasgi when the client hangs up) lets
    the calls stop early: nothing can interrupt a sync view's thread.
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    gone = getattr(request, "scope", {}).get("client_gone")
    results = calls(upstream(request), **form.cleaned_data, gone=gone)
    return answer(way, form, started, results)


def remaining(started):
    return settings.AGGREGATOR_DEADLINE - (time.monotonic() - started)


def read_before_deadline(chunks, started):
    """The body from `chunks`, or None once the fan-out's deadline has passed.

    A read timeout bounds each read, not the whole: an upstream that sends
    its answer a little at a time could run past the deadline. Reading the
    body as it arrives and checking the clock after each piece cuts it off at
    the first piece past the deadline.
    """
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if remaining(started) <= 0:
            return None
    return bytes(body)


def fetch_httpx(client, target, task_id, delay, started):
    """One call with an httpx2.Client, as a Result: it never raises."""
    left = remaining(started)
    if left <= 0:
        return deadline_passed(task_id)
    try:
        with client.stream(
            "GET",
            target.url,
            params={"task_id": task_id, "delay": delay},
            headers=target.headers,
            timeout=clients.timeout(read=min(settings.AGGREGATOR_READ_TIMEOUT, left)),
        ) as response:
            body = read_before_deadline(response.iter_bytes(), started)
    except httpx2.TimeoutException:
        return no_answer(task_id)
    except httpx2.HTTPError as exc:
        return unreachable(task_id, exc)
    if body is None:
        return deadline_passed(task_id)
    return read_answer(task_id, response.status_code, body)
