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
  it left nothing on any thread to clean;
- at most `cap` threads are lent (or still busy with an abandoned call) at
  once; a request that needs one past that waits in line for the next given
  back, at most `wait` seconds, and its view then fails with ThreadsBusy,
  which the handler answers with a 503.
"""

import asyncio
import contextlib
import contextvars
import itertools
import logging
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Executor, Future, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries
from django.http import JsonResponse

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


class ThreadsBusy(RuntimeError):
    """Every thread the handler may lend was lent for longer than the wait."""


def busy_response(error):
    """The 503 for a request that waited its whole LEANASGI_THREAD_WAIT for a
    thread: an answer the client may retry, not a 500 and a traceback."""
    return JsonResponse(
        {"error": f"the server is busy: {error}; try again shortly"},
        status=503,
        headers={"Retry-After": "1"},
    )


class IdleThreads:
    """At most `keep` idle executors, each lent to one request at a time, and
    at most `cap` lent at once (None: no cap, as in Django). A request that
    needs one past the cap waits in line, at most `wait` seconds."""

    def __init__(self, keep, cap=None, wait=30.0):
        self.keep = keep
        self.cap = cap
        self.wait = wait
        self.lent = 0
        # Retired while still running a call their request abandoned: they
        # count against the cap until that call ends.
        self.stuck = 0
        self._idle = deque()
        self._line = deque()  # RequestExecutors waiting for a thread, in order
        self.waited = 0  # requests that have had to wait, since start
        self.longest_wait = 0.0  # seconds, the longest wait since start
        self.timed_out = 0  # requests whose wait ran out

    @property
    def idle(self):
        return len(self._idle)

    @property
    def waiting(self):
        return len(self._line)

    def lend(self):
        """An executor, or None when the cap is reached (then wait_in_line)."""
        if self.cap is not None and self.lent + self.stuck >= self.cap:
            return None
        self.lent += 1
        try:
            return self._idle.pop()
        except IndexError:
            return OneThread()

    def wait_in_line(self, request):
        self.waited += 1
        self._line.append(request)

    def leave_line(self, request):
        with contextlib.suppress(ValueError):
            self._line.remove(request)

    def give_back(self, executor, *, clean):
        self.lent -= 1
        stuck = executor.busy  # still running a call its request abandoned
        if not clean:
            # One thread runs its queue in order, so this runs before anything
            # lent later, and before a retired thread ends.
            executor.submit(clean_up_thread)
        if stuck:
            self.stuck += 1
            loop = asyncio.get_running_loop()
            # Runs after the abandoned call (one thread, in order), on that
            # thread: hand the place back on the loop.
            ended = executor.submit(lambda: None)
            ended.add_done_callback(lambda _: loop.call_soon_threadsafe(self._unstuck))
            executor.shutdown(wait=False)
        elif len(self._idle) >= self.keep:
            executor.shutdown(wait=False)
        else:
            self._idle.append(executor)
        self._serve_line()

    def _unstuck(self):
        self.stuck -= 1
        self._serve_line()

    def _serve_line(self):
        while self._line and (thread := self.lend()) is not None:
            self._line.popleft().take(thread)


class RequestExecutor(Executor):
    """One request's executor: a borrowed thread from its first sync call on.

    Every call to it comes from the event loop (asgiref's SyncToAsync submits
    from there), so it needs no lock."""

    def __init__(self, threads, closer):
        self.threads = threads
        self.closer = closer
        self.borrowed = None
        self.sent = False  # the response is sent, or sending it failed
        self.clean = True  # Django's clean-up ran after the last call
        self._pending = None  # calls made while waiting in line for a thread
        self.gave_up = False  # its wait ran out: what is left goes to the closer

    def submit(self, fn, /, *args, **kwargs):
        if self.borrowed is None:
            if (self.sent or self.gave_up) and self._pending is None:
                # Only closing is left, and this request ran no sync code; or
                # it waited too long already, and only its error answer is left.
                return self.closer.submit(fn, *args, **kwargs)
            if self._pending is None:
                self.borrowed = self.threads.lend()
            if self.borrowed is None:
                return self._wait_for_thread(fn, args, kwargs)
        self.clean = False
        return self.borrowed.submit(fn, *args, **kwargs)

    def _wait_for_thread(self, fn, args, kwargs):
        future = Future()
        if self._pending is None:
            self._pending = []
            self._since = time.monotonic()
            self.threads.wait_in_line(self)
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.threads.wait, self._give_up)
        self._pending.append((future, fn, args, kwargs))
        return future

    def take(self, thread):
        """The thread this request waited for: run what it asked for, in order."""
        waited = time.monotonic() - self._since
        self.threads.longest_wait = max(self.threads.longest_wait, waited)
        self._timer.cancel()
        self.borrowed = thread
        pending, self._pending = self._pending, None
        for future, fn, args, kwargs in pending:
            if future.set_running_or_notify_cancel():
                self.clean = False
                _chain(thread.submit(fn, *args, **kwargs), future)

    def _give_up(self):
        self.threads.leave_line(self)
        self.threads.timed_out += 1
        self.gave_up = True
        pending, self._pending = self._pending or [], None
        error = ThreadsBusy(
            f"no request thread came free within {self.threads.wait:g} s"
            f" ({self.threads.cap} are lent; LEANASGI_MAX_THREADS)"
        )
        for future, *_ in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(error)

    def sent_without_thread(self):
        """The response is sent (or will not be) while this request still
        waits in line: what it waits to run (Django's request_finished, a
        close) needs no thread of its own, so it leaves the line for the
        closer, and frees its place for the next request."""
        if self._pending is None or self.borrowed is not None:
            return
        self._timer.cancel()
        self.threads.leave_line(self)
        pending, self._pending = self._pending, None
        for future, fn, args, kwargs in pending:
            if future.set_running_or_notify_cancel():
                _chain(self.closer.submit(fn, *args, **kwargs), future)

    def release(self):
        if self._pending is not None:
            self._timer.cancel()
            self.threads.leave_line(self)
            pending, self._pending = self._pending, None
            for future, *_ in pending:  # nobody is left to await them
                if future.set_running_or_notify_cancel():
                    future.set_exception(CancelledError())
        if self.borrowed is not None:
            self.threads.give_back(self.borrowed, clean=self.clean)
            self.borrowed = None


def _chain(source, target):
    def copy(done):
        if done.cancelled():
            target.set_exception(CancelledError())  # target is running
        elif (error := done.exception()) is not None:
            target.set_exception(error)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


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
    relies on ``handle()`` calling them in that order, and
    ``process_exception_by_middleware`` for ThreadsBusy; see README.md.
    ``max_threads=None`` is no cap, as in Django; get_asgi_application()
    passes LEANASGI_MAX_THREADS (100 by default).
    """

    def __init__(self, idle_threads=16, closing_threads=2, max_threads=None, wait=30):
        super().__init__()
        move_connection_cleanup_to_request_end()
        self.threads = IdleThreads(idle_threads, max_threads, wait)
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

    def process_exception_by_middleware(self, exception, request):
        # A view that waited its whole LEANASGI_THREAD_WAIT for a thread (a
        # middleware hook that did answers the same in middleware.py).
        if isinstance(exception, ThreadsBusy):
            return busy_response(exception)
        return super().process_exception_by_middleware(exception, request)

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
        executor.sent_without_thread()
