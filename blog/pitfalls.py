"""The ORM in async views: the pitfall of gathering queries, beside the fixes.

Every async ORM call is the sync call run with sync_to_async, which is
thread-sensitive: all such calls of one request go to that request's one
thread. So asyncio.gather of three queries in one view only queues them on
that thread, one after another. Three requests of one query each do run at
once, each on its own thread and its own connection. So do queries sent to
threads of their own (thread_sensitive=False), at a cost: each is outside
the request's connection and any transaction it holds, which is also why a
TestCase cannot test them (tests/test_testing.py).
"""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from answers.demos import slow_demo
from answers.errors import invalid_query, try_again

from .forms import PauseForm
from .models import Post

# A query that takes `seconds` in the database and touches no table: on
# SQLite, sleep() is the function blog/apps.py registers on each connection.
PAUSE = {"postgresql": "SELECT 1 FROM pg_sleep(%s)", "sqlite": "SELECT sleep(%s)"}


def pause_and_count(seconds):
    """The slow query, then a count of the published posts this thread's
    connection sees (drafts are not the visitor's to count)."""
    with connection.cursor() as cursor:
        cursor.execute(PAUSE[connection.vendor], [seconds])
    return threading.current_thread().name, Post.objects.published().count()


# Thread-sensitive, as QuerySet.aget() and every async ORM call is.
pause = sync_to_async(pause_and_count)


# Threads of their own, not the loop's default executor: there a burst of
# these would queue ahead of every other thread_sensitive=False call in the
# process (Django's password checks, say). Three: one view's three queries.
APART = ThreadPoolExecutor(max_workers=3, thread_name_prefix="queries-apart")
MAX_APART_WAITING = 20  # views waiting for APART; past it a 503 at once
_apart_in_flight = 0


@sync_to_async(thread_sensitive=False, executor=APART)
def pause_apart(seconds):
    """On a thread of APART, with a connection of that thread's own: no
    request's clean-up closes it, so it is closed here."""
    try:
        return pause_and_count(seconds)
    finally:
        connection.close()


@slow_demo
async def gathered_queries(request):
    """PITFALL: three queries in asyncio.gather take as long as three in a row."""
    started = time.monotonic()
    form = PauseForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    seconds = form.cleaned_data["seconds"]
    answers = await asyncio.gather(*(pause(seconds) for _ in range(3)))
    return paused(started, seconds, answers)


async def queries_apart(request):
    """Three queries at once in one view, each on a thread and a connection
    of its own: as fast as one, and outside the request's transaction."""
    started = time.monotonic()
    form = PauseForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    seconds = form.cleaned_data["seconds"]
    global _apart_in_flight
    if _apart_in_flight >= MAX_APART_WAITING:
        return try_again(
            f"{MAX_APART_WAITING} of these already wait; try again shortly"
        )
    _apart_in_flight += 1  # one event loop: no lock
    try:
        answers = await asyncio.gather(*(pause_apart(seconds) for _ in range(3)))
    finally:
        _apart_in_flight -= 1
    return paused(started, seconds, answers)


@slow_demo
async def one_query(request):
    """The fix when the queries are independent: one per request. Three
    requests of this at once take about as long as one."""
    started = time.monotonic()
    form = PauseForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    seconds = form.cleaned_data["seconds"]
    return paused(started, seconds, [await pause(seconds)])


def paused(started, seconds, answers):
    threads, counts = zip(*answers, strict=True)
    return JsonResponse(
        {
            "queries": len(answers),
            "seconds": seconds,
            "threads": sorted(set(threads)),
            "posts_seen": list(counts),
            "elapsed": round(time.monotonic() - started, 3),
        }
    )
