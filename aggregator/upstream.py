"""All of the aggregator's network code: where to call, and four ways to fan out.

Every call has a connect and a read timeout, and every fan-out a total
deadline (settings AGGREGATOR_*), so no answer can wait on a hung upstream for
longer than that. A failed call never raises: it becomes an error entry in the
results, in task order, so a view can always answer JSON.
"""

import asyncio
import contextlib
import functools
import ipaddress
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field

import httpx
import requests
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.urls import reverse


@dataclass(frozen=True)
class Upstream:
    url: str
    headers: dict = field(default_factory=dict)


def upstream_for(request):
    """Where the fan-out goes: AGGREGATOR_UPSTREAM_URL, else this server's own
    async upstream endpoint."""
    if settings.AGGREGATOR_UPSTREAM_URL:
        return Upstream(settings.AGGREGATOR_UPSTREAM_URL)
    return this_server(request, "aggregator:upstream_async")


def this_server(request, url_name):
    """The URL `url_name` on the server that is answering `request`.

    It is always a loopback address, on the port the server listens on
    (SERVER_PORT comes from the listening socket under every server here),
    never the Host header, so nothing a client sends chooses where the server
    connects. The request's validated host is passed on only as a header, so
    that ALLOWED_HOSTS and the HTTPS redirect accept the call. A server on a
    unix socket or on one non-loopback address needs AGGREGATOR_UPSTREAM_URL.
    """
    host = "127.0.0.1"
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(request.META.get("SERVER_NAME", ""))
        if address.is_loopback:
            host = f"[{address}]" if address.version == 6 else str(address)
    headers = {"Host": request.get_host()}
    if request.is_secure():
        headers["X-Forwarded-Proto"] = "https"
    path = reverse(url_name)
    return Upstream(f"http://{host}:{request.META['SERVER_PORT']}{path}", headers)


@functools.cache
def tls():
    """One TLS context for every client: building one reads the whole CA bundle,
    about 20 ms, which a client per request would otherwise pay each time."""
    return httpx.create_ssl_context()


def timeout(read=None):
    return httpx.Timeout(
        settings.AGGREGATOR_READ_TIMEOUT if read is None else read,
        connect=settings.AGGREGATOR_CONNECT_TIMEOUT,
    )


def ok(task_id, value):
    return {"task_id": task_id, "value": value}


def error(task_id, message):
    return {"task_id": task_id, "error": message}


def read_answer(task_id, response):
    if response.status_code != 200:
        return error(task_id, f"upstream answered HTTP {response.status_code}")
    try:
        return ok(task_id, response.json())
    except ValueError:
        return error(task_id, "upstream answered something that is not JSON")


def deadline_passed(task_id):
    return error(task_id, f"timeout: not done within {settings.AGGREGATOR_DEADLINE} s")


# -- async: one shared client per event loop ---------------------------------

_clients = weakref.WeakKeyDictionary()


def async_client(request):
    """The AsyncClient for this request, as an async context manager.

    Under ASGI the event loop lives as long as the server, so one client per
    loop is kept and reused: its connection pool is the point of sharing it.
    Under WSGI, Django runs each async view in a one-off event loop; a client
    kept from an earlier loop would fail with "Event loop is closed", so each
    request gets its own client, closed when the fan-out ends.
    """
    if not isinstance(request, ASGIRequest):
        return new_async_client()
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = new_async_client()
    # Borrowed, not owned: leaving the `async with` must not close it.
    return contextlib.nullcontext(_clients[loop])


def new_async_client():
    limits = httpx.Limits(max_connections=settings.AGGREGATOR_MAX_CONNECTIONS)
    return httpx.AsyncClient(timeout=timeout(), limits=limits, verify=tls())


async def fetch_async(client, upstream, task_id, delay):
    try:
        response = await client.get(
            upstream.url,
            params={"task_id": task_id, "delay": delay},
            headers=upstream.headers,
        )
    except httpx.TimeoutException:
        return error(task_id, "timeout: the upstream did not answer in time")
    except httpx.HTTPError as exc:
        return error(task_id, f"upstream unreachable: {exc.__class__.__name__}")
    return read_answer(task_id, response)


async def as_completed(client, upstream, n, delay):
    """Yield each task's entry the moment it is done; at the deadline, give up.

    Tasks still running at the deadline, or when the consumer goes away (a
    client disconnect cancels the view), are cancelled: none is left behind.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.AGGREGATOR_DEADLINE
    tasks = {
        asyncio.ensure_future(fetch_async(client, upstream, task_id, delay)): task_id
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
        # Let the cancelled requests close their connections before returning.
        await asyncio.gather(*pending, return_exceptions=True)


async def gather(request, upstream, n, delay):
    """All n calls at once on the shared client; results in task order."""
    async with async_client(request) as client:
        results = [entry async for entry in as_completed(client, upstream, n, delay)]
    return sorted(results, key=lambda entry: entry["task_id"])


# -- sync: one call after another, or a thread each ---------------------------


def remaining(started):
    return settings.AGGREGATOR_DEADLINE - (time.monotonic() - started)


def fetch_httpx(client, upstream, task_id, delay, started):
    left = remaining(started)
    if left <= 0:
        return deadline_passed(task_id)
    try:
        response = client.get(
            upstream.url,
            params={"task_id": task_id, "delay": delay},
            headers=upstream.headers,
            timeout=timeout(read=min(settings.AGGREGATOR_READ_TIMEOUT, left)),
        )
    except httpx.TimeoutException:
        return error(task_id, "timeout: the upstream did not answer in time")
    except httpx.HTTPError as exc:
        return error(task_id, f"upstream unreachable: {exc.__class__.__name__}")
    return read_answer(task_id, response)


def loop_httpx(upstream, n, delay):
    """One httpx call after another: the time is the sum of the delays."""
    started = time.monotonic()
    with httpx.Client(verify=tls()) as client:
        return [fetch_httpx(client, upstream, i, delay, started) for i in range(n)]


def loop_requests(upstream, n, delay):
    """The same loop with requests, the library most sync code already uses."""
    started = time.monotonic()
    results = []
    with requests.Session() as session:
        for task_id in range(n):
            left = remaining(started)
            if left <= 0:
                results.append(deadline_passed(task_id))
                continue
            read = min(settings.AGGREGATOR_READ_TIMEOUT, left)
            try:
                response = session.get(
                    upstream.url,
                    params={"task_id": task_id, "delay": delay},
                    headers=upstream.headers,
                    timeout=(settings.AGGREGATOR_CONNECT_TIMEOUT, read),
                )
            except requests.Timeout:
                entry = error(task_id, "timeout: the upstream did not answer in time")
            except requests.RequestException as exc:
                entry = error(
                    task_id, f"upstream unreachable: {exc.__class__.__name__}"
                )
            else:
                entry = read_answer(task_id, response)
            results.append(entry)
    return results


def thread_pool(upstream, n, delay):
    """Each call in a thread of a pool: concurrent, at a thread per call."""
    started = time.monotonic()
    limits = httpx.Limits(max_connections=n)
    with httpx.Client(limits=limits, verify=tls()) as client:
        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="fan-out")
        futures = [
            pool.submit(fetch_httpx, client, upstream, i, delay, started)
            for i in range(n)
        ]
        wait_for_futures(futures, timeout=max(remaining(started), 0))
        # Each thread's own read timeout ends it by the deadline; don't wait.
        pool.shutdown(wait=False, cancel_futures=True)
        return [
            future.result() if future.done() else deadline_passed(task_id)
            for task_id, future in enumerate(futures)
        ]
