"""Request threads: each request borrows one at its first sync call, and
keeps it to its end; at most `cap` are lent at once (pool.py), and past that
a request waits in line for one, at most `wait` seconds, then fails with
ThreadsBusy.

- all of a request's sync work, in the view, in the body and in the close,
  runs on its own borrowed thread, which no other request in flight uses;
- a thread goes back to the idle pool only once Django's connection clean-up
  has run on it, and a thread still busy with an abandoned call is retired;
- a request that ran no sync code closes its response on the event loop
  when closing cannot block (close.py), else on a small shared pool: it left
  nothing on any thread to clean;
- a task the request created may still make sync calls after it ends, as on
  Django's handler: each borrows a thread for that call, within the cap, and
  gives it back clean.
"""

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from concurrent.futures import CancelledError, Executor, Future

from django.http import JsonResponse

logger = logging.getLogger("leanasgi.threads")


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


class RequestExecutor(Executor):
    """One request's executor: a borrowed thread from its first sync call on.

    Every call to it comes from the event loop (asgiref's SyncToAsync submits
    from there), so it needs no lock."""

    def __init__(self, threads, closer, explain=None):
        self.threads = threads
        self.closer = closer
        self.explain = explain  # "GET /path" to say why it borrowed, or None
        self.reason = None  # the call it first borrowed its thread for
        self.released = False  # the request has ended
        self.borrowed = None
        self.sent = False  # the response is sent, or sending it failed
        self.clean = True  # Django's clean-up ran after the last call
        self._pending = None  # calls made while waiting in line for a thread
        self.gave_up = False  # its wait ran out: what is left goes to the closer

    def submit(self, fn, /, *args, **kwargs):
        if self.released:
            return self._after_the_request(fn, args, kwargs)
        if self.borrowed is None:
            if (self.sent or self.gave_up) and self._pending is None:
                # Only closing is left, and this request ran no sync code; or
                # it waited too long already, and only its error answer is left.
                return self.closer.submit(fn, *args, **kwargs)
            if self._pending is None:
                if self.explain:
                    self.reason = describe(fn)
                    logger.info(
                        "%s borrowed a thread for %s", self.explain, self.reason
                    )
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

    def _after_the_request(self, fn, args, kwargs):
        """A call from a task that outlived its request: a thread borrowed
        for this call alone, within the cap, cleaned and given back after."""
        explain = self.explain and f"{self.explain} (a task, after the response)"
        call = RequestExecutor(self.threads, self.closer, explain)
        future = call.submit(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()

        def release(_):
            # The loop may have closed meanwhile (the server stopped): then
            # there is no pool left to give the thread back to.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(call.release)

        future.add_done_callback(release)
        return future

    def release(self):
        self.released = True
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


def describe(fn):
    """The dotted name of what asgiref's SyncToAsync is about to run: `fn` is
    its thread_handler partial, whose last argument is the call, a partial of
    the callable and its arguments (pinned by tests/test_explain.py)."""
    call = fn.args[-1] if isinstance(fn, functools.partial) and fn.args else fn
    target = call.func if isinstance(call, functools.partial) else call
    if getattr(target, "__qualname__", "").endswith("asend.<locals>.sync_send"):
        # Signal.asend runs its sync receivers in one closure: name them.
        found = inspect.getclosurevars(target).nonlocals.get("sync_receivers", ())
        return "signal receivers " + ", ".join(dotted(r) for r in found)
    # Django wraps a sync-only middleware (convert_exception_to_response)
    # with functools.wraps, and a class-based view's function names its class.
    target = inspect.unwrap(target)
    if hasattr(target, "view_class"):
        return dotted(target.view_class)
    if hasattr(target, "get_response") and not inspect.isroutine(target):
        # A middleware run whole in a thread: Django does that to every
        # middleware above a sync-only one, so name the sync-only one.
        target = sync_only_in(target) or target
    owner = getattr(target, "__self__", None)
    if (
        owner is not None
        and not isinstance(owner, type)
        and not inspect.ismodule(owner)
    ):
        return f"{dotted(type(owner))}.{target.__name__}"
    return dotted(target)


def dotted(thing):
    """A callable's dotted name; an instance's, its class's."""
    named = thing if hasattr(thing, "__qualname__") else type(thing)
    return f"{named.__module__}.{named.__qualname__}"


def sync_only_in(middleware):
    """The first sync-only middleware from `middleware` down its chain of
    get_response, or None."""
    for _ in range(100):  # a chain is as long as MIDDLEWARE
        if not getattr(type(middleware), "async_capable", False):
            return middleware
        inner = inspect.unwrap(getattr(middleware, "get_response", None) or (lambda: 0))
        if not hasattr(inner, "get_response") or inspect.isroutine(inner):
            return None
        middleware = inner
    return None
