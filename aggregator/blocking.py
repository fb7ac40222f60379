"""The sync fan-outs: one call after another, or on the process's thread pool.

A sync call cannot be cancelled, so each checks the clock and the client's
`gone` event (leanasgi sets it when the client hangs up) between calls, and
reads its answer piece by piece so the deadline cuts off a slow sender too.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import requests
from django.conf import settings

from .results import (
    deadline_passed,
    gone_away,
    no_answer,
    read_answer,
    timeout,
    tls,
    unreachable,
)


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
