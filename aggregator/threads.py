"""The sync fan-out on the process's one thread pool: concurrent like async.

The sync way to overlap I/O. Every request shares AGGREGATOR_THREADS
workers, so the calls in flight are bounded, and each costs a thread.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
from django.conf import settings

from answers.demos import slow_demo

from . import clients, sync_calls
from .results import deadline_passed, gone_away


@slow_demo
def view(request):
    """/aggregator/threads/?n=10&delay=1"""
    return sync_calls.fan_out(request, "threads", on_the_pool)


def on_the_pool(target, n, delay, gone=None):
    """Each call on the shared pool: concurrent up to AGGREGATOR_THREADS calls.

    At the deadline, or as soon as the client goes away (`gone`), the calls
    that have not started are withdrawn; those running end by their own
    timeouts, the read capped at what is left of the deadline.
    """
    started = time.monotonic()
    pool, client = shared_pool()
    futures = [
        pool.submit(sync_calls.fetch_httpx, client, target, i, delay, started)
        for i in range(n)
    ]
    all_done = countdown(futures)
    # Wake every 0.2 s to notice a client that went away.
    left = sync_calls.remaining
    while not all_done.wait(timeout=max(min(left(started), 0.2), 0)):
        if left(started) <= 0 or (gone and gone.is_set()):
            break
    for future in futures:
        future.cancel()
    stopped = gone_away if gone and gone.is_set() else deadline_passed
    return [
        future.result() if future.done() and not future.cancelled() else stopped(i)
        for i, future in enumerate(futures)
    ]


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
            _pool = pool, httpx2.Client(**clients.options(max_connections=size))
        return _pool


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
