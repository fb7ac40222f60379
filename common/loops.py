"""Which event loops live as long as the server.

An ASGI server runs one event loop per process for as long as it serves, so a
client or a subscription kept for that loop stays usable. Under WSGI, Django
runs each async view in a one-off loop, closed when the view returns; anything
kept for it would fail with "Event loop is closed". The ASGI entry point
(mysite/asgi.py) marks its loop; the aggregator's shared clients and the
blog's live broadcast keep state only for marked loops.
"""

import asyncio
import weakref

_server_loops = weakref.WeakSet()


def serving_on_this_loop():
    """Mark the running loop as the server's."""
    _server_loops.add(asyncio.get_running_loop())


def on_server_loop():
    """Whether the running loop is the server's."""
    return asyncio.get_running_loop() in _server_loops
