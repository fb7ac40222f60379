"""Django's stock middleware, with their hooks run on the event loop under ASGI.

Why this module exists: under ASGI, Django's ``MiddlewareMixin`` runs every
``process_request`` and ``process_response`` through ``sync_to_async``, a hop to
a worker thread and back, even when the hook only sets a header. With the
default seven middleware that is over a dozen hops, about 2 ms per request:
`make bench` measured 288 trivial requests per second on one uvicorn worker
with Django's classes and 692 with these (Django ticket #37177).

Each class below is Django's own middleware, unchanged in what it checks and
which headers it sets; it only changes *where* a hook runs. Hooks that do no
I/O run directly on the event loop. The few that might touch the database
(saving a modified session, storing messages, a CSRF token kept in the
session, parsing a POST body) keep Django's thread hop. Under WSGI nothing
changes: the classes behave exactly like Django's.
"""

import logging
import threading
from inspect import iscoroutinefunction, markcoroutinefunction
from time import perf_counter

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.middleware import clickjacking, common, csrf, security

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}

logger = logging.getLogger(__name__)


class OnTheLoop:
    """Mixin for a ``MiddlewareMixin`` subclass: run its hooks without a thread hop.

    ``needs_thread()`` says, per request and at the moment a hook is about to
    run, whether that hook might block; only then does it go to a thread.
    """

    def needs_thread(self, request):
        return False

    async def run_hook(self, hook, request, *args):
        if self.needs_thread(request):
            return await sync_to_async(hook, thread_sensitive=True)(request, *args)
        return hook(request, *args)

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = await self.run_hook(self.process_request, request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self.run_hook(self.process_response, request, response)
        return response


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    """HTTPS redirect and security headers: pure header work."""


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    """APPEND_SLASH and friends: URL resolving and headers, no I/O."""


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    """One header."""


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    """Attaches a lazy ``request.user`` and ``request.auser``; loads nothing."""


class SessionMiddleware(OnTheLoop, sessions.SessionMiddleware):
    """The session is loaded lazily by whoever reads it; only a save does I/O."""

    def needs_thread(self, request):
        session = getattr(request, "session", None)
        return session is not None and (
            session.modified or settings.SESSION_SAVE_EVERY_REQUEST
        )


class MessageMiddleware(OnTheLoop, messages.MessageMiddleware):
    """Storing messages may write to the session; reading none does nothing."""

    def needs_thread(self, request):
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    """CSRF protection, as strict as Django's; safe methods never leave the loop."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            # Django wraps a sync process_view in sync_to_async but calls an
            # async one as it is, so the async twin replaces it here.
            self.process_view = self.aprocess_view

    def needs_thread(self, request):
        return settings.CSRF_USE_SESSIONS

    async def aprocess_view(self, request, callback, callback_args, callback_kwargs):
        check = super().process_view
        if request.method in SAFE_METHODS or getattr(callback, "csrf_exempt", False):
            return check(request, callback, callback_args, callback_kwargs)
        # Reading the token may parse request.POST, which can spill to disk.
        return await sync_to_async(check, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


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
    """A database that is down or restarting gets a 503 JSON answer, not a 500.

    The pool checks each connection before lending it (CONN_HEALTH_CHECKS)
    and waits at most its timeout for one, so while PostgreSQL restarts a
    request fails within that time, with Retry-After, and the next ones succeed
    as soon as it is back. Other errors are left to Django. (Django always
    calls process_exception in a thread, even under ASGI.)
    """

    def after(self, request, response):
        return response

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable: %s", exception)
        return JsonResponse(
            {"error": "the database is unavailable; try again in a moment"},
            status=503,
            headers={"Retry-After": "1"},
        )


API_PREFIX = "/api/"
