"""Views that report which thread ran what, and how often signals fired.

Served only under tests.probe_settings, next to the whole site.
"""

import asyncio
import threading
import time

from asgiref.sync import sync_to_async
from django.core.signals import request_finished, request_started
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path

counts = {"started": 0, "finished": 0}
lock = threading.Lock()


def count_started(**kwargs):
    with lock:
        counts["started"] += 1


def count_finished(**kwargs):
    with lock:
        counts["finished"] += 1


request_started.connect(count_started)
request_finished.connect(count_finished)


def sync_thread(request):
    """Which thread runs a sync view, after holding it `delay` seconds."""
    time.sleep(float(request.GET.get("delay", 0)))
    return JsonResponse({"thread": threading.get_ident()})


async def sync_calls(request):
    """Three sync calls from one async view, one of them a database query, with
    a wait between them, during which the request keeps its thread."""

    def query():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return threading.get_ident()

    first = await sync_to_async(threading.get_ident)()
    await asyncio.sleep(float(request.GET.get("wait", 0)))
    second = await sync_to_async(query)()
    third = await sync_to_async(threading.get_ident)()
    return JsonResponse({"threads": [first, second, third]})


def signal_counts(request):
    return JsonResponse(counts)


urlpatterns = [
    path("probe/sync-thread", sync_thread),
    path("probe/sync-calls", sync_calls),
    path("probe/signals", signal_counts),
    path("", include("mysite.urls")),
]
