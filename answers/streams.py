"""Streams that end when the server is told to stop.

A stream still waiting for its next item when the server gets SIGTERM holds
the restart until it ends by itself: up to a lab run's 60 s, or a fan-out's
10 s. `until_stop()` ends it at once instead, with a last item that tells
the client what happened. The live-likes streams have their own way
(blog/live.py closes every watcher).
"""

import asyncio
import contextlib
import weakref

import leanasgi

_stops = weakref.WeakKeyDictionary()  # event loop -> asyncio.Event


def stop_event():
    """This loop's event, set when the server is told to stop."""
    loop = asyncio.get_running_loop()
    event = _stops.get(loop)
    if event is None:
        event = _stops[loop] = asyncio.Event()
    if leanasgi.is_stopping():
        event.set()
    return event


@leanasgi.on_stop
def _stop_streams():
    stop_event().set()


async def until_stop(items, last):
    """Yield what the async iterator `items` yields until the server is told
    to stop; then cancel it where it waits, yield `last`, and end."""
    stopped = asyncio.ensure_future(stop_event().wait())
    step = None
    try:
        while True:
            step = asyncio.ensure_future(anext(items))
            await asyncio.wait({step, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                await cancel(step)
                yield last
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        # Also when the client hung up: nothing may run `items` while it closes.
        stopped.cancel()
        if step is not None:
            await cancel(step)
        await items.aclose()


async def cancel(task):
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await task
