"""The lean handler: a request borrows a thread only when it runs sync code.

Django's ``ASGIHandler`` gives every request a fresh single-thread executor,
and every request uses it at once, because ``request_started``'s two receivers
from ``django.db`` are sync. A request that only awaits therefore holds a
thread for its whole life. Here those receivers move to ``request_finished``,
and a request borrows an idle thread at its first sync call and keeps it to
the end. One rule follows for every request:

- all its sync work, in the view, in the body and in the close, runs on its
  own borrowed thread, which no other request in flight uses;
- a thread goes back to the idle pool only once Django's connection clean-up
  has run on it, and a thread still busy with an abandoned call is retired;
- a request that ran no sync code closes its response on a small shared pool:
  it left nothing on any thread to clean.
"""

import contextvars
import itertools
import logging
import threading
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries

logger = logging.getLogger(__name__)
_names = itertools.count(1)
_current = contextvars.ContextVar("leanasgi_request_executor")


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
        self.lent = 0
        self._idle = deque()

    @property
    def idle(self):
        return len(self._idle)

    def lend(self):
        self.lent += 1
        try:
            return self._idle.pop()
        except IndexError:
            return OneThread()

    def give_back(self, executor, *, clean):
        self.lent -= 1
        stuck = executor.busy  # still running a call its request abandoned
        if not clean:
            # One thread runs its queue in order, so this runs before anything
            # lent later, and before a retired thread ends.
            executor.submit(clean_up_thread)
        if stuck or len(self._idle) >= self.keep:
            executor.shutdown(wait=False)
        else:
            self._idle.append(executor)


class RequestExecutor(Executor):
    """One request's executor: a borrowed thread from its first sync call on."""

    def __init__(self, threads, closer):
        self.threads = threads
        self.closer = closer
        self.borrowed = None
        self.sent = False  # the response is sent, or sending it failed
        self.clean = True  # Django's clean-up ran after the last call

    def submit(self, fn, /, *args, **kwargs):
        if self.borrowed is None:
            if self.sent:
                # Only closing is left, and this request ran no sync code.
                return self.closer.submit(fn, *args, **kwargs)
            self.borrowed = self.threads.lend()
        self.clean = False
        return self.borrowed.submit(fn, *args, **kwargs)

    def release(self):
        if self.borrowed is not None:
            self.threads.give_back(self.borrowed, clean=self.clean)
            self.borrowed = None


def clean_up_thread():
    """What Django's request_finished receivers do, for a request that never
    got that far."""
    reset_queries()
    close_old_connections()


def mark_thread_clean(**kwargs):
    """request_finished's last receiver: Django's clean-up has run here."""
    executor = _current.get(None)
    if executor is not None:
        executor.clean = True


def move_connection_cleanup_to_request_end():
    """Idempotent. Django's own receivers move (so that whoever disconnects
    them, as its test client does, still can); others stay as they are."""
    signals.request_started.disconnect(reset_queries)
    signals.request_started.disconnect(close_old_connections)
    # Last, in this order: the clean-up runs after every other receiver.
    for receiver in (close_old_connections, reset_queries, mark_thread_clean):
        signals.request_finished.disconnect(receiver)
        signals.request_finished.connect(receiver)


class LeanASGIHandler(ASGIHandler):
    """Django's ASGIHandler with a thread lent per request only when it needs one.

    It overrides ``__call__``, ``run_get_response`` and ``send_response`` and
    relies on ``handle()`` calling them in that order; see README.md.
    """

    def __init__(self, idle_threads=16, closing_threads=2):
        super().__init__()
        move_connection_cleanup_to_request_end()
        self.threads = IdleThreads(idle_threads)
        self.closer = ThreadPoolExecutor(
            max_workers=closing_threads, thread_name_prefix="response-close"
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not hasattr(self, "threads"):
            # Django refuses other scopes. A subclass that never ran __init__
            # (staticfiles' ASGIStaticFilesHandler, built on the name this
            # class replaces in Django's own tests) is served as Django's.
            return await super().__call__(scope, receive, send)
        executor = RequestExecutor(self.threads, self.closer)
        token = _current.set(executor)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            _current.reset(token)
            executor.release()

    async def send_response(self, response, send):
        try:
            await super().send_response(response, send)
        except Exception:
            # handle() would leave a body that raised unclosed: no
            # request_finished, its files open. Close it, as WSGI servers do.
            _mark_sent()
            try:
                await sync_to_async(response.close)()
            except Exception:
                logger.exception("leanasgi: closing a response whose body raised")
            raise
        finally:
            # What is left in handle() is closing the response, or sending
            # request_finished when the client left before the view returned.
            _mark_sent()

    async def run_get_response(self, request):
        try:
            return await super().run_get_response(request)
        except BaseException:
            _mark_sent()  # send_response will not run
            raise


def _mark_sent():
    executor = _current.get(None)
    if executor is not None:
        executor.sent = True
