"""The outermost ASGI application: lifespan, a hang-up event, requests in flight.

Django's handler refuses lifespan and cannot tell a sync view that its client
left. This layer, around whatever serves the site, adds:

- lifespan: at shutdown, what apps registered with ``on_shutdown()`` runs on
  the server's loop (their HTTP clients, their Redis connections);
- ``scope["client_gone"]``, a ``threading.Event`` set when the client hangs
  up, which a long sync view can poll to stop early;
- ``stats()``: requests in flight and the handler's threads, for a meter;
- ``on_serving_loop()``: whether the running loop is a server's, which lives
  as long as the process, so a client kept for it stays usable.
"""

import asyncio
import logging
import os
import threading
import weakref

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from .handler import LeanASGIHandler

logger = logging.getLogger(__name__)

_shutdown = []
_serving_loops = weakref.WeakSet()
_handlers = []
_in_flight = 0  # one event loop per process runs every Application: no lock


def get_asgi_application(*, wrap=None, lean=True):
    """Like ``django.core.asgi.get_asgi_application()``, with the lean handler.

    ``wrap`` takes Django's ASGI application and returns the one to serve
    inside this layer (a static-files app, say). ``lean=False`` serves
    Django's own ``ASGIHandler`` instead, for comparison.
    """
    django.setup(set_prefix=False)
    if lean:
        handler = LeanASGIHandler(getattr(settings, "LEANASGI_IDLE_THREADS", 16))
        _handlers.append(handler)
    else:
        handler = ASGIHandler()
    return Application(wrap(handler) if wrap else handler)


def on_shutdown(close):
    """Register an async callable to run at the server's lifespan shutdown.

    Usable as a decorator. Servers that speak no lifespan (Daphne, and so
    runserver) never run it: see README.md.
    """
    _shutdown.append(close)
    return close


def mark_serving_loop():
    """Mark the running loop as a server's (an Application does, per request)."""
    _serving_loops.add(asyncio.get_running_loop())


def on_serving_loop():
    """Whether the running event loop is one an Application serves on."""
    return asyncio.get_running_loop() in _serving_loops


def stats():
    """Requests in flight (None where no Application serves) and threads."""
    return {
        "in_flight": _in_flight if _serving_loops else None,
        "threads": process_threads(),
        "lent_threads": sum(h.threads.lent for h in _handlers),
        "idle_threads": sum(h.threads.idle for h in _handlers),
    }


def process_threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc (macOS): the Python threads only
        return threading.active_count()


class Application:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
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


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            mark_serving_loop()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await run_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def run_shutdown():
    """Each registered callable once; one that fails does not stop the rest."""
    for close in _shutdown:
        try:
            await close()
        except Exception:
            logger.exception("leanasgi: %r failed at shutdown", close)


def watch_for_hang_up(scope, receive):
    """The scope with a `client_gone` event, and a receive() that sets it."""
    gone = threading.Event()

    async def receive_and_watch():
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
        return message

    return {**scope, "client_gone": gone}, receive_and_watch
