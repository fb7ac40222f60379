"""The lab's meter: what this server process is doing, sampled while a run lasts."""

import asyncio
import os
import threading

LAG_PROBE = 0.010  # seconds: the timer whose lateness is the event loop's lag


def threads():
    """Threads of this process, the interpreter's own and any library's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc (macOS): the Python threads only
        return threading.active_count()


def requests_in_flight():
    """HTTP requests this process is answering, the one asking left out."""
    from mysite.asgi import in_flight  # the ASGI entry point counts them

    return max(in_flight() - 1, 0)


async def loop_lag_ms():
    """How late a 10 ms timer fires: near 0 on an event loop that is free,
    seconds behind a view that blocks it."""
    loop = asyncio.get_running_loop()
    before = loop.time()
    await asyncio.sleep(LAG_PROBE)
    return round(max(loop.time() - before - LAG_PROBE, 0) * 1000, 1)


async def sample():
    """The meter once, probing the lag with a 10 ms timer."""
    return snapshot(await loop_lag_ms())


def snapshot(lag_ms):
    """The meter with a lag measured by the caller."""
    return {"threads": threads(), "in_flight": requests_in_flight(), "lag_ms": lag_ms}
