"""The lean handler: a request borrows a thread only when it runs sync code.

Django's ``ASGIHandler`` gives every request a fresh single-thread executor,
and every request uses it at once, because ``request_started``'s two receivers
from ``django.db`` are sync. A request that only awaits therefore holds a
thread for its whole life. Here those receivers move to ``request_finished``,
and a request borrows an idle thread at its first sync call and keeps it to
the end (threads.py has the rules, and the cap).
"""

import asyncio
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections, reset_queries
from django.urls import set_script_prefix

from .close import closes_on_the_loop
from .pool import IdleThreads
from .threads import RequestExecutor, ThreadsBusy, busy_response

logger = logging.getLogger(__name__)
_current = contextvars.ContextVar("leanasgi_request_executor")


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

    It overrides ``__call__``, ``handle`` (Django 6.1's steps, cheaper),
    ``run_get_response`` and ``send_response``, and
    ``process_exception_by_middleware`` for ThreadsBusy; see README.md.
    ``max_threads=None`` is no cap, as in Django; get_asgi_application()
    passes LEANASGI_MAX_THREADS (100 by default).
    """

    def __init__(
        self,
        idle_threads: int = 16,
        closing_threads: int = 2,
        max_threads: int | None = None,
        wait: float = 30,
        explain: bool = False,
    ) -> None:
        super().__init__()
        move_connection_cleanup_to_request_end()
        self.explain = explain
        self.threads = IdleThreads(idle_threads, max_threads, wait)
        self.closer = ThreadPoolExecutor(
            max_workers=closing_threads, thread_name_prefix="response-close"
        )

    async def handle(self, scope, receive, send):
        """Django 6.1's handle(), with the same steps and outcomes, but the
        view watched for a disconnect by a callback rather than a TaskGroup,
        and the response closed on the loop when that cannot block. Django's
        asgi and handlers suites are the judge (django_suites.py)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                body_file.close()
                await self.send_response(error_response, send)
                await self.close_response(error_response)
                return
            response = None
            with _CancelledOnDisconnect(self.listen_for_disconnect(receive)):
                try:
                    response = await self.run_get_response(request)
                    await self.send_response(response, send)
                except RequestAborted:
                    pass
            if response is None:
                await signals.request_finished.asend(sender=self.__class__)
            else:
                await self.close_response(response)

    async def close_response(self, response):
        if getattr(response, "_leanasgi_closed", False):
            return  # send_response closed it when its body raised
        executor = _current.get(None)
        if (
            executor is not None
            and executor.borrowed is None
            and executor._pending is None
            and closes_on_the_loop(response, also=(mark_thread_clean,))
        ):
            response.close()
        else:
            await sync_to_async(response.close)()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not hasattr(self, "threads"):
            # Django refuses other scopes. A subclass that never ran __init__
            # (staticfiles' ASGIStaticFilesHandler, built on the name this
            # class replaces in Django's own tests) is served as Django's.
            return await super().__call__(scope, receive, send)
        explain = f"{scope['method']} {scope['path']}" if self.explain else None
        executor = RequestExecutor(self.threads, self.closer, explain)
        token = _current.set(executor)
        context = ThreadSensitiveContext(executor=executor)
        try:
            async with context:
                await self.handle(scope, receive, send)
        finally:
            _current.reset(token)
            executor.release()
            let_tasks_outlive(context, executor)

    async def send_response(self, response, send):
        executor = _current.get(None)
        if executor is not None and executor.reason:
            response.headers["Leanasgi-Thread"] = executor.reason
        try:
            await super().send_response(response, send)
        except Exception:
            # handle() would leave a body that raised unclosed: no
            # request_finished, its files open. Close it, as WSGI servers do.
            _mark_sent()
            response._leanasgi_closed = True
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


def let_tasks_outlive(context, executor):
    """A task the request created copied its context, and may make sync calls
    after the request ends: there Django's handler runs them, and asgiref
    3.13 raises for a context with an executor, once exited. Make the context
    usable again, with the request's executor, which now lends a thread per
    call (RequestExecutor._after_the_request)."""
    context._exited = False
    SyncToAsync.context_to_thread_executor[context] = executor


def _mark_sent():
    executor = _current.get(None)
    if executor is not None:
        executor.sent = True
        executor.sent_without_thread()


class _CancelledOnDisconnect:
    """Run `listener` (Django's listen_for_disconnect) beside the block, and
    cancel the block when it raises, as Django's TaskGroup does: an async
    view is cancelled when its client leaves (RequestAborted, then swallowed
    here), and any other error of the listener's (Django's assertion on an
    unexpected message) is raised in the block's place."""

    def __init__(self, listener):
        self.listener = listener

    def __enter__(self):
        self.task = asyncio.current_task()
        self.done = False
        self.error = None
        self.listening = asyncio.create_task(self.listener)
        self.listening.add_done_callback(self._ended)
        return self

    def _ended(self, listening):
        if self.done or listening.cancelled() or listening.exception() is None:
            return
        self.error = listening.exception()
        self.task.cancel()

    def __exit__(self, kind, value, traceback):
        self.done = True
        if self.error is None and self.listening.done():
            # It ended before its callback ran: take its error, as a
            # TaskGroup would, so that none goes unretrieved.
            if not self.listening.cancelled():
                error = self.listening.exception()
                if error is not None and not isinstance(error, RequestAborted):
                    raise error
            return False
        self.listening.cancel()
        if self.error is None:
            return False
        # The cancel was ours, whether or not it landed; one from outside
        # (the server stopping) still stands, and goes on.
        if self.task.uncancel() > 0:
            return False
        if kind is None or issubclass(kind, asyncio.CancelledError):
            if isinstance(self.error, RequestAborted):
                return True
            raise self.error
        return False
