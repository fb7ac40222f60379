"""The outermost ASGI application: lifespan, a hang-up event, requests in flight.

Django's handler refuses lifespan and cannot tell a sync view that its client
left. This layer, around whatever serves the site, adds:

- lifespan: at shutdown, what apps registered with ``on_shutdown()`` runs on
  the server's loop (their HTTP clients, their Redis connections);
- ``scope["client_gone"]``, a ``threading.Event`` set when the client hangs
  up, which a long sync view can poll to stop early;
- ``stats()``: requests in flight and the handler's threads, for a meter;
- ``on_serving_loop()``: whether the running loop is a server's, which lives
  as long as the process, so a client kept for it stays usable;
- ``on_stop()``: callables run as soon as the server is told to stop (SIGTERM,
  SIGINT), before it waits for open connections to end: a stream that never
  ends by itself (server-sent events) is told to, so a restart takes seconds.
"""

import asyncio
import logging
import os
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from types import FrameType
from typing import Any

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from .handler import LeanASGIHandler

logger = logging.getLogger(__name__)

# ASGI's three callables, as the spec defines them.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Threads lent to requests at once, per process, and how long a request waits
# for one past that: LEANASGI_MAX_THREADS and LEANASGI_THREAD_WAIT (README.md).
MAX_THREADS = 100
THREAD_WAIT = 30.0

_shutdown: list[Callable[[], Awaitable[Any]]] = []
_on_stop: list[Callable[[], Any]] = []
_stopping = False
_serving_loops: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()
_handlers: list[LeanASGIHandler] = []
_in_flight = 0  # one event loop per process runs every Application: no lock


def get_asgi_application(
    *, wrap: Callable[[ASGIApp], ASGIApp] | None = None, lean: bool = True
) -> "Application":
    """Like ``django.core.asgi.get_asgi_application()``, with the lean handler.

    ``wrap`` takes Django's ASGI application and returns the one to serve
    inside this layer (a static-files app, say). ``lean=False`` serves
    Django's own ``ASGIHandler`` instead, for comparison.
    """
    django.setup(set_prefix=False)
    if lean:
        handler = LeanASGIHandler(
            idle_threads=getattr(settings, "LEANASGI_IDLE_THREADS", 16),
            max_threads=getattr(settings, "LEANASGI_MAX_THREADS", MAX_THREADS),
            wait=getattr(settings, "LEANASGI_THREAD_WAIT", THREAD_WAIT),
            explain=getattr(settings, "LEANASGI_EXPLAIN_THREADS", settings.DEBUG),
        )
        _handlers.append(handler)
    else:
        handler = ASGIHandler()
    return Application(wrap(handler) if wrap else handler)


def on_shutdown[F: Callable[[], Awaitable[Any]]](close: F) -> F:
    """Register an async callable to run at the server's lifespan shutdown.

    Usable as a decorator. Servers that speak no lifespan (Daphne, and so
    runserver) never run it: see README.md.
    """
    _shutdown.append(close)
    return close


def on_stop[F: Callable[[], Any]](callback: F) -> F:
    """Register a sync callable to run on each serving loop when the server is
    told to stop, before it waits for open connections. Usable as a decorator.

    Seen where the server handles SIGTERM and SIGINT in the process that runs
    the application and speaks lifespan: uvicorn, gunicorn's workers, Granian,
    `hypercorn --workers 0` (README.md).
    """
    _on_stop.append(callback)
    return callback


def is_stopping() -> bool:
    """Whether this process's server has been told to stop."""
    return _stopping


def watch_for_stop() -> None:
    """Chain onto the server's SIGTERM and SIGINT handlers: note the stop,
    then let the server's own handler do what it does."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set signal handlers
    for number in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(number)
        if not callable(previous) or getattr(previous, "leanasgi", False):
            continue

        def handler(
            signum: int, frame: FrameType | None, previous: Any = previous
        ) -> None:
            stop_requested()
            previous(signum, frame)

        handler.leanasgi = True  # type: ignore[attr-defined]
        signal.signal(number, handler)


def stop_requested() -> None:
    """Run the on_stop() callables on every serving loop, once."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    for loop in list(_serving_loops):
        loop.call_soon_threadsafe(_run_stop_callbacks)


def _run_stop_callbacks() -> None:
    for callback in _on_stop:
        try:
            callback()
        except Exception:
            logger.exception("leanasgi: %r failed at stop", callback)


def mark_serving_loop() -> None:
    """Mark the running loop as a server's (an Application does, per request)."""
    _serving_loops.add(asyncio.get_running_loop())


def on_serving_loop() -> bool:
    """Whether the running event loop is one an Application serves on."""
    return asyncio.get_running_loop() in _serving_loops


def stats() -> dict[str, Any]:
    """Requests in flight (None where no Application serves), the process's
    threads, and the lean handler's: lent, idle, and requests waiting for one."""
    pools = [handler.threads for handler in _handlers]
    return {
        "in_flight": _in_flight if _serving_loops else None,
        "threads": process_threads(),
        "lent_threads": sum(pool.lent for pool in pools),
        "idle_threads": sum(pool.idle for pool in pools),
        "stuck_threads": sum(pool.stuck for pool in pools),
        "max_threads": sum(pool.cap or 0 for pool in pools) or None,
        "waiting_for_thread": sum(pool.waiting for pool in pools),
        "waited_for_thread": sum(pool.waited for pool in pools),
        "longest_thread_wait": round(
            max((p.longest_wait for p in pools), default=0), 3
        ),
        "thread_wait_timeouts": sum(pool.timed_out for pool in pools),
    }


def process_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc (macOS): the Python threads only
        return threading.active_count()


class Application:
    """The outer ASGI application: lifespan, a hang-up event, requests in
    flight; everything else goes to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        global _in_flight
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        mark_serving_loop()
        scope, receive = watch_for_hang_up(scope, receive)
        _in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            _in_flight -= 1


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            mark_serving_loop()
            watch_for_stop()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await run_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def run_shutdown() -> None:
    """Each registered callable once; one that fails does not stop the rest."""
    for close in _shutdown:
        try:
            await close()
        except Exception:
            logger.exception("leanasgi: %r failed at shutdown", close)


def watch_for_hang_up(scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
    """The scope with a `client_gone` event, and a receive() that sets it."""
    gone = threading.Event()

    async def receive_and_watch() -> Message:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
        return message

    return {**scope, "client_gone": gone}, receive_and_watch
