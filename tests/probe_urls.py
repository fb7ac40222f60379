"""Probe views: which thread ran what, and what a thread held; a stream of
queries; a middleware that queries. Served under tests.probe_settings, next
to the whole site.
"""

import asyncio
import os
import threading
import time

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse, StreamingHttpResponse
from django.urls import include, path

import leanasgi


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


def thread_state(request):
    """What this sync request's thread held when the view began."""
    return JsonResponse(
        {
            "thread": threading.current_thread().name,
            "open": connection.connection is not None,
            "queries": len(connection.queries),
        }
    )


def session_write(request):
    """Touches no table itself; SessionMiddleware saves the session after it."""
    request.session["probe"] = time.time()
    return JsonResponse({"written": True})


async def stream_queries(request):
    """A body of `n` lines, a query each, `pause` seconds apart."""

    def query():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    async def body():
        for number in range(int(request.GET.get("n", 10))):
            await sync_to_async(query)()
            yield f"{number}\n".encode()
            await asyncio.sleep(float(request.GET.get("pause", 0.1)))

    return StreamingHttpResponse(body(), content_type="text/plain")


@leanasgi.on_shutdown
async def note_shutdown():
    """Registered after the apps' own hooks, so it runs after them: proof that
    the lifespan shutdown ran to its end (PROBE_SHUTDOWN_FILE)."""
    if os.environ.get("PROBE_SHUTDOWN_FILE"):
        with open(os.environ["PROBE_SHUTDOWN_FILE"], "w") as marker:
            marker.write("shut down")


class QueryOnRequestMiddleware:
    """Queries the database in process_request when asked to (X-Probe-Query)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "X-Probe-Query" in request.headers:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        return self.get_response(request)


urlpatterns = [
    path("probe/sync-calls", sync_calls),
    path("probe/thread-state", thread_state),
    path("probe/session-write", session_write),
    path("probe/stream-queries", stream_queries),  # ?n=50&pause=0.1
    path("", include("mysite.urls")),
]
