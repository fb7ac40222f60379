"""The lab's meter: what this server process is doing, sampled while a run lasts."""

import asyncio

import leanasgi

LAG_PROBE = 0.010  # seconds: the timer whose lateness is the event loop's lag


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
    stats = leanasgi.stats()
    # The request asking is left out. Under WSGI nothing counts them: None.
    in_flight = stats["in_flight"] and stats["in_flight"] - 1
    return {"threads": stats["threads"], "in_flight": in_flight, "lag_ms": lag_ms}
