"""ASGI entry point: `uvicorn mysite.asgi:application`, daphne, runserver.

Django is served by the lean handler in mysite/handlers.py, under which a
request that only waits holds no thread (DJANGO_STOCK=1 serves Django's own
handler instead). Static files are answered by ServeStatic before Django is
reached, so a request for /static/... costs no middleware and no view. Around
the site, two things Django's ASGI handler leaves out:

- the lifespan protocol: at shutdown the fan-out's shared HTTP clients and
  the live likes' Redis connections are closed, and uvicorn no longer logs that lifespan "appears unsupported";
- a count of the HTTP requests in flight in this process, which the lab's
  meter shows (`in_flight()`);
- a hang-up event: each HTTP request's scope carries a threading.Event,
  `client_gone`, set when the client disconnects. Django cancels an async view
  then, but cannot interrupt a sync view running in its thread; with the
  event, a long sync view (the thread-pool fan-out) can stop early.
"""

import os
import threading

from django.conf import settings
from django.core.asgi import get_asgi_application
from servestatic import ServeStaticASGI

from mysite.handlers import get_lean_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

if settings.DJANGO_STOCK:
    # Django exactly as shipped, for comparison only (README, the lean path).
    django_application = get_asgi_application()
else:
    django_application = get_lean_asgi_application(settings.IDLE_REQUEST_THREADS)
site = ServeStaticASGI(
    django_application, root=settings.STATIC_ROOT, prefix=settings.STATIC_URL
)

from aggregator import upstream  # noqa: E402 -- needs the apps loaded above
from blog import live  # noqa: E402
from common import loops  # noqa: E402

_in_flight = 0


async def application(scope, receive, send):
    global _in_flight
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        await site(scope, receive, send)
        return
    loops.serving_on_this_loop()  # clients and subscriptions may be kept for it
    scope, receive = watch_for_hang_up(scope, receive)
    # One event loop runs this, so the count needs no lock.
    _in_flight += 1
    try:
        await site(scope, receive, send)
    finally:
        _in_flight -= 1


def in_flight():
    """HTTP requests this process is answering now, the caller's included."""
    return _in_flight


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await upstream.close_clients()
            await live.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def watch_for_hang_up(scope, receive):
    """The scope with a `client_gone` event, and a receive() that sets it."""
    gone = threading.Event()

    async def receive_and_watch():
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
        return message

    return {**scope, "client_gone": gone}, receive_and_watch
