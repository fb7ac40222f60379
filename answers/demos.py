"""Demos whose lesson is that they hurt the server: on in development, off
with DEBUG off unless DJANGO_DEMOS=1 (settings.DEMOS), as the lab is. And
the sync demos that hold a thread for seconds: with the demos off, at most
SLOW_DEMOS_AT_ONCE of them at once, so that a crowd of them cannot take
every thread the lean handler may lend (LEANASGI_MAX_THREADS)."""

import functools
import threading
from contextlib import contextmanager
from inspect import iscoroutinefunction

from django.conf import settings
from django.http import JsonResponse

from .errors import try_again


def harmful_demo(view):
    """A 404 JSON answer in place of `view` while settings.DEMOS is off."""

    def off():
        return JsonResponse(
            {
                "error": "this demo harms the server, so it is off in production",
                "allowed": "on with DJANGO_DEBUG=1, or DJANGO_DEMOS=1",
            },
            status=404,
        )

    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def gated(request, *args, **kwargs):
            if not settings.DEMOS:
                return off()
            return await view(request, *args, **kwargs)

    else:

        @functools.wraps(view)
        def gated(request, *args, **kwargs):
            if not settings.DEMOS:
                return off()
            return view(request, *args, **kwargs)

    return gated


_slow_lock = threading.Lock()  # sync views run on many threads at once
_slow_running = 0


@contextmanager
def _slow_place():
    """True while this demo holds one of SLOW_DEMOS_AT_ONCE places, False
    when none is free (then it answers 503 at once)."""
    global _slow_running
    with _slow_lock:
        free = settings.DEMOS or _slow_running < settings.SLOW_DEMOS_AT_ONCE
        _slow_running += free
    try:
        yield free
    finally:
        with _slow_lock:
            _slow_running -= free


def slow_demo(view):
    """Past SLOW_DEMOS_AT_ONCE such views at once (with the demos off), a
    503 JSON answer in place of `view`."""

    def busy():
        return try_again(
            f"{settings.SLOW_DEMOS_AT_ONCE} slow demos already run here",
            allowed="try again shortly; DJANGO_DEMOS=1 lifts the limit",
        )

    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def limited(request, *args, **kwargs):
            with _slow_place() as free:
                return await view(request, *args, **kwargs) if free else busy()

    else:

        @functools.wraps(view)
        def limited(request, *args, **kwargs):
            with _slow_place() as free:
                return view(request, *args, **kwargs) if free else busy()

    return limited
