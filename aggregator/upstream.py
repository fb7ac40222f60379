"""All of the aggregator's network code: four ways to fan out, and a stream.

It never sees a request: a view works out the Target (where to call) and
hands it over with plain numbers, `(target, n, delay)`, the same for every way;
each gives back one Result per call, in task order. Every call has a connect
and a read timeout, and every fan-out a total deadline (settings
AGGREGATOR_*), so no answer waits on a hung upstream for longer than that. A
failed call never raises: it becomes a Result with an error, and a flag says
whether it timed out, so a view can always answer JSON.

Every fan-out is bounded, whoever asks and however many ask at once:
- the async fan-outs take one of AGGREGATOR_MAX_IN_FLIGHT slots per call, the
  size of the shared client's connection pool, so a call over the bound waits
  on a semaphore (free to cancel) and never in the client's own queue;
- the thread-pool fan-out runs its calls on one process-wide pool of
  AGGREGATOR_THREADS workers, never a thread per call;
- the sync loops make one call at a time.

The HTTP client is httpx2, the maintained continuation of httpx with the same
API. httpx 0.28 / httpcore 1.0 (unmaintained since 2025) spend quadratic time
re-assigning their queue on every cancelled call: a hundred clients hanging up
on fan-outs kept the event loop at 100% CPU for minutes (README, "Clients that
give up").
"""

import asyncio
import contextlib
import functools
import json
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx2
import requests
from django.conf import settings

import leanasgi


@dataclass(frozen=True)
class Target:
    """Where the calls go: a URL, and headers to send with each call."""

    url: str
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """One call's outcome: its answer, or what went wrong."""

    task_id: int
    value: object = None
    error: str | None = None
    timed_out: bool = False

    @property
    def ok(self):
        return self.error is None

    def as_json(self):
        if self.ok:
            return {"task_id": self.task_id, "value": self.value}
        return {"task_id": self.task_id, "error": self.error}


@functools.cache
def tls():
    """One TLS context for every client: building one reads the whole CA bundle,
    about 20 ms, which a client per request would otherwise pay each time."""
    return httpx2.create_ssl_context()


def timeout(read=None):
    return httpx2.Timeout(
        settings.AGGREGATOR_READ_TIMEOUT if read is None else read,
        connect=settings.AGGREGATOR_CONNECT_TIMEOUT,
    )


def failed(task_id, message, timed_out=False):
    return Result(task_id, error=message, timed_out=timed_out)


def no_answer(task_id):
    return failed(task_id, "timeout: the upstream did not answer in time", True)


def deadline_passed(task_id):
    message = f"timeout: not done within {settings.AGGREGATOR_DEADLINE} s"
    return failed(task_id, message, timed_out=True)


def gone_away(task_id):
    return failed(task_id, "cancelled: the client went away")


def unreachable(task_id, exc):
    return failed(task_id, f"upstream unreachable: {exc.__class__.__name__}")


def read_answer(task_id, status, body):
    if status != 200:
        return failed(task_id, f"upstream answered HTTP {status}")
    try:
        return Result(task_id, value=json.loads(body))
    except ValueError:
        return failed(task_id, "upstream answered something that is not JSON")


# -- async: one shared, bounded client per server event loop -------------------


@dataclass
class Bounded:
    """An AsyncClient and as many slots as its pool has connections."""

    client: httpx2.AsyncClient
    slots: asyncio.Semaphore


_shared = weakref.WeakKeyDictionary()  # server event loop -> Bounded


def bounded_client():
    """The bounded AsyncClient for this event loop, as an async context manager.

    The one place that chooses. An ASGI server's loop lives as long as the
    server, so one client per loop is kept and reused: its connection pool,
    and the bound on calls in flight, are the point of sharing it. Under WSGI,
    Django runs each async view in a one-off event loop; a client kept from an
    earlier loop would fail with "Event loop is closed", so each fan-out gets
    its own client, closed when it ends.
    """
    loop = asyncio.get_running_loop()
    if not leanasgi.on_serving_loop():
        return new_bounded_client()
    if loop not in _shared:
        _shared[loop] = bounded(httpx2.AsyncClient(**client_options()))
    # Borrowed, not owned: leaving the `async with` must not close it.
    return contextlib.nullcontext(_shared[loop])


@contextlib.asynccontextmanager
async def new_bounded_client():
    async with httpx2.AsyncClient(**client_options()) as client:
        yield bounded(client)


def client_options():
    limits = httpx2.Limits(max_connections=settings.AGGREGATOR_MAX_IN_FLIGHT)
    return {"timeout": timeout(), "limits": limits, "verify": tls()}


def bounded(client):
    return Bounded(client, asyncio.Semaphore(settings.AGGREGATOR_MAX_IN_FLIGHT))


async def close_clients():
    """Close the shared client of the running loop: the server is stopping."""
    shared = _shared.pop(asyncio.get_running_loop(), None)
    if shared is not None:
        await shared.client.aclose()


async def fetch_async(shared, target, task_id, delay):
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


async def as_completed(target, n, delay):
    """Yield each call's Result the moment it is done; at the deadline, give up.

    Calls still running at the deadline, or when the consumer goes away (a
    client disconnect cancels the view), are cancelled: none is left behind.
    """
    async with bounded_client() as shared:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.AGGREGATOR_DEADLINE
        tasks = {
            asyncio.ensure_future(fetch_async(shared, target, task_id, delay)): task_id
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


async def gather(target, n, delay):
    """All n calls at once on the shared client; Results in task order."""
    results = [result async for result in as_completed(target, n, delay)]
    return sorted(results, key=lambda result: result.task_id)


# -- sync: one call after another, or on the shared thread pool -----------------


def remaining(started):
    return settings.AGGREGATOR_DEADLINE - (time.monotonic() - started)


def read_before_deadline(chunks, started):
    """The body from `chunks`, or None once the fan-out's deadline has passed.

    A sync call cannot be cancelled, and a read timeout bounds each read, not
    the whole: an upstream that sends its answer a little at a time could run
    past the deadline. Reading the body as it arrives and checking the clock
    after each piece cuts it off at the first piece past the deadline.
    """
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if remaining(started) <= 0:
            return None
    return bytes(body)


def fetch_httpx(client, target, task_id, delay, started):
    left = remaining(started)
    if left <= 0:
        return deadline_passed(task_id)
    try:
        with client.stream(
            "GET",
            target.url,
            params={"task_id": task_id, "delay": delay},
            headers=target.headers,
            timeout=timeout(read=min(settings.AGGREGATOR_READ_TIMEOUT, left)),
        ) as response:
            body = read_before_deadline(response.iter_bytes(), started)
    except httpx2.TimeoutException:
        return no_answer(task_id)
    except httpx2.HTTPError as exc:
        return unreachable(task_id, exc)
    if body is None:
        return deadline_passed(task_id)
    return read_answer(task_id, response.status_code, body)


def loop_httpx(target, n, delay, gone=None):
    """One httpx2 call after another: the time is the sum of the delays.

    `gone`, a threading.Event set when the client hangs up, stops the loop
    between calls: a sync view cannot be cancelled, but it can stop early.
    """
    started = time.monotonic()
    with httpx2.Client(verify=tls()) as client:
        return [
            gone_away(i)
            if gone and gone.is_set()
            else fetch_httpx(client, target, i, delay, started)
            for i in range(n)
        ]


def loop_requests(target, n, delay, gone=None):
    """The same loop with requests, the library most sync code already uses."""
    started = time.monotonic()
    results = []
    with requests.Session() as session:
        for task_id in range(n):
            left = remaining(started)
            if gone and gone.is_set():
                results.append(gone_away(task_id))
                continue
            if left <= 0:
                results.append(deadline_passed(task_id))
                continue
            read = min(settings.AGGREGATOR_READ_TIMEOUT, left)
            try:
                with session.get(
                    target.url,
                    params={"task_id": task_id, "delay": delay},
                    headers=target.headers,
                    timeout=(settings.AGGREGATOR_CONNECT_TIMEOUT, read),
                    stream=True,
                ) as response:
                    # read1: whatever has arrived, not a full buffer's worth.
                    pieces = iter(lambda: response.raw.read1(65536), b"")
                    body = read_before_deadline(pieces, started)
            except requests.Timeout:
                result = no_answer(task_id)
            except requests.RequestException as exc:
                result = unreachable(task_id, exc)
            else:
                if body is None:
                    result = deadline_passed(task_id)
                else:
                    result = read_answer(task_id, response.status_code, body)
            results.append(result)
    return results


_pool = None
_pool_lock = threading.Lock()


def shared_pool():
    """The process's one thread pool for fan-outs, and a client for its threads.

    Built on first use, under a lock (a hundred requests may arrive at once),
    and kept: AGGREGATOR_THREADS workers serve every request's calls, so a
    hundred requests of a hundred calls each still use that many threads, not
    ten thousand. httpx2.Client is safe to share between threads.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            size = settings.AGGREGATOR_THREADS
            pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fan-out")
            limits = httpx2.Limits(max_connections=size)
            _pool = pool, httpx2.Client(limits=limits, verify=tls())
        return _pool


def thread_pool(target, n, delay, gone=None):
    """Each call on the shared pool: concurrent up to AGGREGATOR_THREADS calls.

    At the deadline, or as soon as the client goes away (`gone`), the calls
    that have not started are withdrawn; those running end by their own read
    timeout, which never runs past the deadline.
    """
    started = time.monotonic()
    pool, client = shared_pool()
    futures = [
        pool.submit(fetch_httpx, client, target, i, delay, started) for i in range(n)
    ]
    all_done = countdown(futures)
    # Wake every 0.2 s to notice a client that went away.
    while not all_done.wait(timeout=max(min(remaining(started), 0.2), 0)):
        if remaining(started) <= 0 or (gone and gone.is_set()):
            break
    for future in futures:
        future.cancel()
    stopped = gone_away if gone and gone.is_set() else deadline_passed
    return [
        future.result() if future.done() and not future.cancelled() else stopped(i)
        for i, future in enumerate(futures)
    ]


def countdown(futures):
    """An Event set once every future is done: one wake-up, not a poll of each."""
    all_done = threading.Event()
    left = len(futures)
    lock = threading.Lock()

    def one_done(_future):
        nonlocal left
        with lock:
            left -= 1
            if left == 0:
                all_done.set()

    for future in futures:
        future.add_done_callback(one_done)
    return all_done


# -- the lab: requests at this server, each timed as it starts and ends --------


@dataclass(frozen=True)
class Timed:
    """One request of `timed_requests`, when it started or when it ended.

    `at_ms` counts from the call to timed_requests. An ended request has a
    status: "ok" (2xx), "timeout" (504, or not done by the deadline) or
    "error", and the Server-Timing and X-View-Thread headers it came back with.
    """

    index: int
    at_ms: float
    ended: bool = False
    status: str = ""
    code: int | None = None
    server_timing: str = ""
    view_thread: str = ""
    error: str = ""


def status_of(code):
    if 200 <= code < 300:
        return "ok"
    return "timeout" if code == 504 else "error"


async def timed_requests(targets, seconds):
    """Send every Target at once; yield a Timed as each starts and as each ends.

    For the lab (lab/views.py), which fires them at this same server. They are
    sent from a thread of their own, on an event loop and a client of their
    own, as an outside client would send them:
    - a view that blocks this server's event loop (the pitfall) must not also
      stop the clock that times it: from this loop, five blocked requests
      would all seem to end together, when the fifth;
    - the fan-outs they reach take the shared client's slots for their own
      calls, so a run holding those slots while waiting for them would
      deadlock.
    A request not done within `seconds` ends as a timeout. Leaving early (the
    page was closed) cancels every request, and returns once the sending
    thread has closed its connections.
    """
    loop = asyncio.get_running_loop()
    events = asyncio.Queue()
    sender = Sender(
        targets,
        seconds,
        lambda timed: loop.call_soon_threadsafe(events.put_nowait, timed),
    )
    finished = loop.create_future()

    def send_then_tell():
        try:
            sender.run()
        finally:
            loop.call_soon_threadsafe(finished.set_result, None)

    threading.Thread(target=send_then_tell, name="lab-client", daemon=True).start()
    try:
        for _ in range(2 * len(targets)):
            yield await events.get()
    finally:
        sender.stop()
        await finished


class Sender:
    """The sending side of timed_requests, run on its own thread and loop."""

    def __init__(self, targets, seconds, report):
        self.targets, self.seconds, self.report = targets, seconds, report
        self.began = time.monotonic()
        self.lock = threading.Lock()
        self.stopped = False
        self.loop = self.task = None

    def run(self):
        asyncio.run(self.send_all())

    def stop(self):
        """Cancel every request, from any thread."""
        with self.lock:
            self.stopped = True
            if self.task is not None:
                with contextlib.suppress(RuntimeError):  # its loop already closed
                    self.loop.call_soon_threadsafe(self.task.cancel)

    def now_ms(self):
        return round((time.monotonic() - self.began) * 1000, 1)

    async def send_all(self):
        with self.lock:
            if self.stopped:
                return
            self.loop, self.task = asyncio.get_running_loop(), asyncio.current_task()
        limits = httpx2.Limits(max_connections=len(self.targets))
        # The run's time is the only read timeout: a fan-out may take its own
        # whole deadline to answer.
        options = {
            **client_options(),
            "limits": limits,
            "timeout": timeout(self.seconds),
        }
        async with httpx2.AsyncClient(**options) as client:
            await asyncio.gather(
                *(self.send(client, i, target) for i, target in enumerate(self.targets))
            )

    async def send(self, client, index, target):
        self.report(Timed(index, self.now_ms()))
        try:
            async with asyncio.timeout(self.seconds - (time.monotonic() - self.began)):
                response = await client.get(target.url, headers=target.headers)
        except TimeoutError:
            ended = Timed(index, self.now_ms(), True, "timeout", error="run deadline")
        except httpx2.TimeoutException:
            ended = Timed(index, self.now_ms(), True, "timeout", error="no answer")
        except httpx2.HTTPError as exc:
            ended = Timed(index, self.now_ms(), True, "error", error=type(exc).__name__)
        else:
            ended = Timed(
                index,
                self.now_ms(),
                True,
                status_of(response.status_code),
                response.status_code,
                response.headers.get("Server-Timing", ""),
                response.headers.get("X-View-Thread", ""),
            )
        self.report(ended)
