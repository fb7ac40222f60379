"""Probe views: each reports which threads ran its sync work, and what a thread
held when a request started on it."""

import asyncio
import json
import threading
import time

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.signals import request_finished, request_started
from django.db import connection
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt

signal_counts = {"started": 0, "finished": 0}
closed_by = {}  # a FileResponse's id -> the thread that closed its file
_lock = threading.Lock()


async def _started(**kwargs):
    # Async: a sync receiver of request_started would cost every request a
    # thread before its view (README.md, "What it does not promise").
    signal_counts["started"] += 1


def _finished(**kwargs):
    with _lock:
        signal_counts["finished"] += 1


request_started.connect(_started)
request_finished.connect(_finished)


def query():
    """One query, which opens this thread's connection; the thread's name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return threading.current_thread().name


def ready(request):
    return HttpResponse("ok")


def thread_state(request):
    """What this request's thread held when the view began, then a query."""
    state = {
        "thread": threading.current_thread().name,
        "open": connection.connection is not None,
        "queries": len(connection.queries),
    }
    time.sleep(float(request.GET.get("delay", 0)))
    query()
    return JsonResponse(state)


async def wait(request):
    await asyncio.sleep(float(request.GET.get("delay", 0)))
    return JsonResponse({"waited": True})


async def sync_calls(request):
    """Three sync calls, a query among them, with a wait in between."""
    first = await sync_to_async(lambda: threading.current_thread().name)()
    await asyncio.sleep(float(request.GET.get("wait", 0)))
    second = await sync_to_async(query)()
    third = await sync_to_async(lambda: threading.current_thread().name)()
    return JsonResponse({"threads": [first, second, third]})


def line(thread):
    return (json.dumps({"thread": thread}) + "\n").encode()


async def stream_queries(request):
    """An async body whose items come from thread-sensitive calls."""
    items = int(request.GET.get("n", 4))

    async def body():
        for _ in range(items):
            yield line(await sync_to_async(query)())
            await asyncio.sleep(float(request.GET.get("pause", 0.05)))

    return StreamingHttpResponse(body(), content_type="application/x-ndjson")


async def stream_raises(request):
    """An async body that queries, then raises mid-stream."""

    async def body():
        yield line(await sync_to_async(query)())
        await asyncio.sleep(0.05)
        raise RuntimeError("the body failed on purpose")

    return StreamingHttpResponse(body(), content_type="application/x-ndjson")


def stream_sync(request):
    """A sync iterator: under ASGI Django reads it whole in one sync call."""

    def body():
        for _ in range(3):
            yield line(query())
            time.sleep(0.1)  # 0.3 s in all: concurrent requests overlap

    return StreamingHttpResponse(body(), content_type="application/x-ndjson")


class ThreadFile:
    """A file whose content is the thread that reads it; its close is noted."""

    def __init__(self, key):
        self.key = key
        self.done = False

    def read(self, size=-1):
        if self.done:
            return b""
        self.done = True
        time.sleep(0.3)  # concurrent requests overlap
        return line(query())

    def close(self):
        closed_by[self.key] = threading.current_thread().name


async def file(request):
    return FileResponse(ThreadFile(request.GET["id"]))


def file_closed_by(request):
    return JsonResponse({"thread": closed_by.get(request.GET["id"])})


_asked = threading.local()


def finish_raises(request):
    """A query, then a request_finished receiver (below) that raises on this
    thread before Django's clean-up runs."""
    _asked.raise_at_finish = True
    time.sleep(0.3)  # so that concurrent requests are in flight together
    return JsonResponse({"thread": query()})


def raise_if_asked(**kwargs):
    if getattr(_asked, "raise_at_finish", False):
        _asked.raise_at_finish = False
        raise RuntimeError("a receiver failed on purpose")


def signals(request):
    return JsonResponse(signal_counts)


async def stats(request):
    import leanasgi

    return JsonResponse(leanasgi.stats())


late = {}  # key -> what a task created by /late-task found after the response
_tasks = set()  # the tasks, kept until they end (asyncio keeps weak references)


async def late_task(request):
    """Answers at once; its task waits, then makes a query and a sync call."""
    key, delay = request.GET["key"], float(request.GET.get("delay", 0.3))

    async def after_the_response():
        await asyncio.sleep(delay)
        try:
            late[key] = {"threads": [await sync_to_async(query)() for _ in range(2)]}
        except Exception as error:
            late[key] = {"error": f"{type(error).__name__}: {error}"}

    task = asyncio.create_task(after_the_response())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return JsonResponse({"started": key})


def late_result(request):
    return JsonResponse(late.get(request.GET["key"], {}))


def named_call():
    return threading.current_thread().name


async def borrows_for(request):
    """An async view whose one sync call is named_call."""
    return JsonResponse({"thread": await sync_to_async(named_call)()})


async def borrows_for_nothing(request):
    return JsonResponse({})


async def session_write(request):
    await request.session.aset("seen", True)
    return JsonResponse({"saved": True})


def sync_receiver(**kwargs):
    """A sync request_started receiver (tests/asgi.py connects it on demand)."""


class Report(View):
    """A class-based sync view."""

    def get(self, request):
        return JsonResponse({"thread": threading.current_thread().name})


async def touch_cache(request):
    caches["default"]  # built in this request's context: no I/O, no thread
    return HttpResponse("ok")


@csrf_exempt
async def upload(request):
    # A probe: the multipart body is parsed from memory, on the loop.
    return JsonResponse({"files": len(request.FILES)})
