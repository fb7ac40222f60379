"""The site's own middleware, each written for both modes, so that under ASGI
none makes a thread hop: Server-Timing, JSON errors under /api/, and a 503
when the database is down. Django's own middleware, with their hooks moved to
the event loop, come from leanasgi (leanasgi/README.md).
"""

import logging
import sys
import threading
from inspect import iscoroutinefunction, markcoroutinefunction
from time import perf_counter

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from answers.errors import try_again

logger = logging.getLogger(__name__)


class BothModes:
    """A middleware written for both modes, so under ASGI it makes no thread
    hop; a subclass defines ``after(request, response)``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return self.after(request, self.get_response(request))

    async def __acall__(self, request):
        return self.after(request, await self.get_response(request))


class ServerTimingMiddleware(BothModes):
    """Tell the client how long the view took and where it ran.

    Adds ``Server-Timing: view;dur=<ms>``, ``X-View-Handler`` (async or sync)
    and ``X-View-Thread`` (the thread that ran the view), so ``curl -i`` shows
    an async view on the event loop's thread and, under ASGI, a sync view on a
    thread of its own request. An async view costs it no thread hop.
    """

    def __init__(self, get_response):
        if not settings.DIAGNOSTIC_HEADERS:
            # Internal thread names are not for the public: off with DEBUG
            # off unless DJANGO_DIAGNOSTIC_HEADERS=1, and then it costs nothing.
            raise MiddlewareNotUsed
        super().__init__(get_response)
        if self.async_mode:
            self.process_view = self.aprocess_view

    def process_view(self, request, view, view_args, view_kwargs):
        # Under WSGI every view runs on the thread that runs the middleware.
        handler = "async" if iscoroutinefunction(view) else "sync"
        request.view_timing = (handler, threading.current_thread().name, perf_counter())

    async def aprocess_view(self, request, view, view_args, view_kwargs):
        if iscoroutinefunction(view):
            thread = threading.current_thread().name
        else:
            # Django runs a sync view on this request's own sync thread; ask it
            # its name (one short hop, for sync views only).
            thread = await sync_to_async(current_thread_name, thread_sensitive=True)()
        handler = "async" if iscoroutinefunction(view) else "sync"
        request.view_timing = (handler, thread, perf_counter())

    def after(self, request, response):
        if hasattr(request, "view_timing"):
            handler, thread, started = request.view_timing
            milliseconds = (perf_counter() - started) * 1000
            response["Server-Timing"] = (
                f'view;dur={milliseconds:.1f};desc="{handler} view"'
            )
            response["X-View-Handler"] = handler
            response["X-View-Thread"] = thread
        return response


def current_thread_name():
    return threading.current_thread().name


class JsonApiErrorsMiddleware(BothModes):
    """Under /api/, the 404 and 405 answers that Django and ninja give as HTML
    or plain text become JSON that says what was wrong and what is allowed.

    An unknown path, a trailing slash too many and a wrong method are a
    client's mistakes too; an API client should not have to parse HTML.
    """

    def after(self, request, response):
        if response.status_code not in (404, 405) or not request.path.startswith(
            API_PREFIX
        ):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response  # an operation's own 404, already JSON
        if response.status_code == 404:
            body = {
                "detail": f"No API operation at {request.path}",
                "allowed": f"the paths listed at {API_PREFIX}docs (no trailing slash)",
            }
        else:
            allowed = sorted(
                method.strip() for method in response.get("Allow", "").split(",")
            )
            body = {
                "detail": f"{request.method} is not allowed on {request.path}",
                "allowed": allowed,
            }
        answer = JsonResponse(body, status=response.status_code)
        if "Allow" in response:
            answer["Allow"] = response["Allow"]
        return answer


class DatabaseUnavailableMiddleware(BothModes):
    """A database that is down or restarting gets a 503 JSON answer, not a 500,
    wherever the error is raised before the answer starts: in the view, or in
    a middleware inside this one (saving the session, say).

    The pool checks each connection before lending it (CONN_HEALTH_CHECKS)
    and waits at most its timeout for one, so while PostgreSQL restarts a
    request fails within that time, with Retry-After, and the next ones succeed
    as soon as it is back. Other errors are left to Django.
    """

    def process_exception(self, request, exception):
        # A view's error. (Django calls process_exception in a thread.)
        if not isinstance(exception, DATABASE_DOWN):
            return None
        logger.warning("database unavailable: %s", exception)
        return unavailable()

    def after(self, request, response):
        # A middleware's error: Django has turned it into a 500 already, and
        # told got_request_exception, which noted it on the request.
        if response.status_code == 500 and hasattr(request, "database_down"):
            return unavailable()
        return response


DATABASE_DOWN = (OperationalError, InterfaceError)


def unavailable():
    return try_again("the database is unavailable; try again in a moment")


def note_database_down(sender, request=None, **kwargs):
    """got_request_exception's receiver: Django sends it with the error raised."""
    if request is not None and isinstance(sys.exc_info()[1], DATABASE_DOWN):
        request.database_down = True


got_request_exception.connect(note_database_down, dispatch_uid="database_down")


API_PREFIX = "/api/"
