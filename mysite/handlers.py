"""The lean ASGI path: a request that only waits holds no thread.

Why this module exists. Django's stock ``ASGIHandler`` opens a
``ThreadSensitiveContext`` per request, whose single-thread executor is
created the first time the request runs sync code, and kept, with its thread,
until the request ends. Django itself runs sync code at the start of every
request: ``request_started`` is sent with ``asend()``, and the two receivers
that ``django.db`` connects to it, ``reset_queries`` and
``close_old_connections``, are sync, so they go through ``sync_to_async``. So
every request, even an async view that only sleeps, starts a thread before
its view runs, holds it while it waits, and joins it at the end: a thousand
waiting requests, a thousand threads.

Two changes, with documented APIs only (``Signal.connect``/``disconnect``,
asgiref's ``ThreadSensitiveContext(executor=...)``, and a subclass that
overrides ``__call__`` and ``run_get_response``, never ``handle()``):

1. ``reset_queries`` and ``close_old_connections`` leave ``request_started``
   and run at ``request_finished`` instead. They act on the connections of
   the thread they run in, and ``request_finished`` runs on the request's own
   thread (Django closes the response there), so each thread is clean when it
   is handed back: at the next request's start they would find nothing to
   reset or close. ``close_old_connections`` already ran at the end too.
2. A request borrows a thread only when it first runs sync code, from a small
   pool of idle single-thread executors, and keeps it until it ends, so all of
   one request's sync calls still run on one thread and no two requests in
   flight share one. A request that never ran sync code has nothing to clean
   up on a thread of its own; closing its response runs on a small shared
   pool instead of borrowing one.

``DJANGO_STOCK=1`` serves Django's own handler, for comparison
(mysite/asgi.py). WSGI is unchanged.
"""

import contextvars
import itertools
import threading
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries

_names = itertools.count(1)


class OneThread(ThreadPoolExecutor):
    """A single-thread executor that knows whether it is still busy."""

    def __init__(self):
        super().__init__(max_workers=1, thread_name_prefix=f"request-{next(_names)}")
        self._lock = threading.Lock()
        self._unfinished = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self._unfinished += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future):
        with self._lock:
            self._unfinished -= 1

    @property
    def busy(self):
        return self._unfinished > 0


class IdleThreads:
    """At most `keep` idle executors, each lent to one request at a time."""

    def __init__(self, keep):
        self.keep = keep
        self._idle = deque()

    def lend(self):
        try:
            return self._idle.pop()
        except IndexError:
            return OneThread()

    def give_back(self, executor):
        # A thread still running an abandoned call is never lent again: it
        # ends once its work is done.
        if executor.busy or len(self._idle) >= self.keep:
            executor.shutdown(wait=False)
        else:
            self._idle.append(executor)


class RequestExecutor(Executor):
    """One request's executor: a borrowed thread, from its first sync call on."""

    def __init__(self, threads, closer):
        self.threads = threads
        self.closer = closer
        self.borrowed = None
        self.view_done = False

    def submit(self, fn, /, *args, **kwargs):
        if self.borrowed is None:
            if self.view_done:
                # Only the response's close is left, and this request left
                # nothing on any thread to clean up: no thread of its own.
                return self.closer.submit(fn, *args, **kwargs)
            self.borrowed = self.threads.lend()
        return self.borrowed.submit(fn, *args, **kwargs)

    def release(self):
        if self.borrowed is not None:
            self.threads.give_back(self.borrowed)
            self.borrowed = None


_current = contextvars.ContextVar("request_executor")


class LeanASGIHandler(ASGIHandler):
    """Django's ASGIHandler with a thread lent per request only when it needs one."""

    def __init__(self, idle_threads=16, closing_threads=2):
        super().__init__()
        self.threads = IdleThreads(idle_threads)
        self.closer = ThreadPoolExecutor(
            max_workers=closing_threads, thread_name_prefix="response-close"
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django refuses
        executor = RequestExecutor(self.threads, self.closer)
        token = _current.set(executor)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            _current.reset(token)
            executor.release()

    async def run_get_response(self, request):
        try:
            return await super().run_get_response(request)
        finally:
            # What follows in handle() is sending and closing the response,
            # or, when the client went away, sending request_finished.
            _current.get().view_done = True


def get_lean_asgi_application(idle_threads):
    """Like django.core.asgi.get_asgi_application(), with the two changes above."""
    django.setup(set_prefix=False)
    move_connection_cleanup_to_request_end()
    return LeanASGIHandler(idle_threads)


def move_connection_cleanup_to_request_end():
    """Change 1 above; idempotent. Receivers anyone else connects stay as they are."""
    signals.request_started.disconnect(reset_queries)
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.connect(reset_queries)
    signals.request_finished.connect(close_old_connections)
