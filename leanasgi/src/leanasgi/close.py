"""Whether a response may close on the event loop, with no thread hop.

Django closes every response through ``sync_to_async``: closing runs the
response's resource closers and sends ``request_finished``, whose receivers
are sync. For a request that ran no sync code that hop buys nothing when the
only resource is the request's body (in memory, or an unlinked temporary
file) and every receiver is one of Django's own, with nothing to do on the
loop's thread: no database connection is open there (on the loop Django's
connections are per context, and none can be opened), and no cache
whose ``close()`` does more than the base class's no-op. Anything else (a
file, a stream, an upload, a receiver of the project's) closes on a thread,
as before.
"""

from django.core import signals
from django.core.cache import caches, close_caches
from django.core.cache.backends.base import BaseCache
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, connections, reset_queries
from django.http.request import HttpRequest
from django.http.response import HttpResponseBase

NOTHING_TO_CLEAN_ON_THE_LOOP = {reset_urlconf, close_old_connections, reset_queries}


def closes_on_the_loop(response, also=()):
    """`also`: the caller's own receivers, known to do no I/O."""
    if (
        response.streaming
        or type(response).close is not HttpResponseBase.close
        or not all(map(_closes_a_body, response._resource_closers))
    ):
        return False
    sync, asynchronous = signals.request_finished._live_receivers(
        response._handler_class
    )
    if asynchronous:
        return False  # a sync send() would run them with async_to_sync
    for receiver in sync:
        if receiver is close_caches:
            if not all(
                type(cache).close is BaseCache.close
                for cache in caches.all(initialized_only=True)
            ):
                return False
        elif receiver is close_old_connections:
            # None can be open on the loop (its connections are per context,
            # and opening one raises); checking one would query, so be sure.
            if any(
                connection.connection is not None
                for connection in connections.all(initialized_only=True)
            ):
                return False
        elif receiver not in NOTHING_TO_CLEAN_ON_THE_LOOP and receiver not in also:
            return False
    return True


def _closes_a_body(closer):
    """Django's get_response adds request.close: it closes the body, and any
    uploaded files (which delete their temporary files: a thread's work)."""
    request = getattr(closer, "__self__", None)
    return (
        isinstance(request, HttpRequest)
        and closer.__func__ is type(request).close
        and not hasattr(request, "_files")
    )
