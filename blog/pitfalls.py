"""The ORM in async views: the pitfall of gathering queries, beside the fix.

Every async ORM call is the sync call run with sync_to_async, which is
thread-sensitive: all such calls of one request go to that request's one
thread. So asyncio.gather of three queries in one view only queues them on
that thread, one after another. Three requests of one query each do run at
once, each on its own thread and its own connection.
"""

import asyncio
import threading
import time

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from common.forms import invalid_query

from .forms import PauseForm

# A query that takes `seconds` in the database and touches no table: on
# SQLite, sleep() is the function blog/apps.py registers on each connection.
PAUSE = {"postgresql": "SELECT 1 FROM pg_sleep(%s)", "sqlite": "SELECT sleep(%s)"}


@sync_to_async  # thread-sensitive, as QuerySet.aget() and every async ORM call is
def pause(seconds):
    with connection.cursor() as cursor:
        cursor.execute(PAUSE[connection.vendor], [seconds])
    return threading.current_thread().name


async def gathered_queries(request):
    """PITFALL: three queries in asyncio.gather take as long as three in a row."""
    started = time.monotonic()
    form = PauseForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    seconds = form.cleaned_data["seconds"]
    threads = await asyncio.gather(*(pause(seconds) for _ in range(3)))
    return paused(started, seconds, threads)


async def one_query(request):
    """The fix when the queries are independent: one per request. Three
    requests of this at once take about as long as one."""
    started = time.monotonic()
    form = PauseForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    seconds = form.cleaned_data["seconds"]
    return paused(started, seconds, [await pause(seconds)])


def paused(started, seconds, threads):
    return JsonResponse(
        {
            "queries": len(threads),
            "seconds": seconds,
            "threads": sorted(set(threads)),
            "elapsed": round(time.monotonic() - started, 3),
        }
    )
