"""The fan-out to write: every call at once, bounded, by a deadline, on a shared client.

The naive way (naive.py) is a gather over a new client. This one adds what
a server needs:
- a bound: each call takes one of AGGREGATOR_MAX_IN_FLIGHT slots, the size of
  the client's connection pool, so a call over the bound waits on a semaphore
  (free to cancel) and never in the client's own queue;
- a deadline, AGGREGATOR_DEADLINE, for the whole fan-out, not per call;
- one client per server event loop, so connections and the bound are shared
  by every request.
"""

import asyncio
import contextlib
import time
import weakref
from dataclasses import dataclass

import httpx2
from django.conf import settings

import leanasgi
from answers.errors import invalid_query

from . import clients
from .addresses import upstream
from .forms import FanOutForm
from .results import answer, deadline_passed, no_answer, read_answer, unreachable


async def view(request):
    """n calls of `delay` seconds at once: the time is the slowest call's, not
    the sum, and no thread is held while they are in flight.

    /aggregator/bounded/?n=10&delay=1
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    results = await every_result(upstream(request), **form.cleaned_data)
    return answer("bounded", form, started, results)


async def every_result(target, n, delay):
    """All n calls at once on the shared client; their Results in task order."""
    results = [result async for result in as_completed(target, n, delay)]
    return sorted(results, key=lambda result: result.task_id)


async def as_completed(target, n, delay):
    """Yield each call's Result the moment it is done; at the deadline, give up.

    Calls still running at the deadline, or when the consumer goes away (a
    client disconnect cancels the view), are cancelled: none is left behind.
    """
    async with shared_client() as shared:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.AGGREGATOR_DEADLINE
        tasks = {
            asyncio.ensure_future(fetch(shared, target, task_id, delay)): task_id
            for task_id in range(n)
        }
        pending = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(
                    pending,
                    timeout=max(deadline - loop.time(), 0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    break
                for task in done:
                    yield task.result()
            for task in sorted(pending, key=tasks.get):
                yield deadline_passed(tasks[task])
        finally:
            for task in pending:
                task.cancel()
            # Let the cancelled calls close their connections before returning.
            await asyncio.gather(*pending, return_exceptions=True)


async def fetch(shared, target, task_id, delay):
    """One call, as a Result: it never raises."""
    try:
        # Past the bound, wait here: a queue that cancelling empties for free.
        async with shared.slots:
            response = await shared.client.get(
                target.url,
                params={"task_id": task_id, "delay": delay},
                headers=target.headers,
            )
    except httpx2.TimeoutException:
        return no_answer(task_id)
    except httpx2.HTTPError as exc:
        return unreachable(task_id, exc)
    return read_answer(task_id, response.status_code, response.content)


# -- the shared client ---------------------------------------------------------


@dataclass
class Bounded:
    """An AsyncClient and as many slots as its pool has connections."""

    client: httpx2.AsyncClient
    slots: asyncio.Semaphore


_shared = weakref.WeakKeyDictionary()  # server event loop -> Bounded


def shared_client():
    """The bounded AsyncClient for this event loop, as an async context manager.

    An ASGI server's loop lives as long as the server, so one client per loop
    is kept and reused: its connection pool, and the bound on calls in
    flight, are the point of sharing it. Under WSGI, Django runs each async
    view in a one-off event loop; a client kept from an earlier loop would
    fail with "Event loop is closed", so each fan-out gets its own, closed
    when it ends.
    """
    loop = asyncio.get_running_loop()
    if not leanasgi.on_serving_loop():
        return _one_off_client()
    if loop not in _shared:
        _shared[loop] = _bounded(httpx2.AsyncClient(**clients.options()))
    # Borrowed, not owned: leaving the `async with` must not close it.
    return contextlib.nullcontext(_shared[loop])


@contextlib.asynccontextmanager
async def _one_off_client():
    async with httpx2.AsyncClient(**clients.options()) as client:
        yield _bounded(client)


def _bounded(client):
    return Bounded(client, asyncio.Semaphore(settings.AGGREGATOR_MAX_IN_FLIGHT))


async def close_clients():
    """Close the shared client of the running loop: the server is stopping."""
    shared = _shared.pop(asyncio.get_running_loop(), None)
    if shared is not None:
        await shared.client.aclose()
