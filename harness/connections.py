"""Count PostgreSQL's connections while a server answers a burst of requests
that each hold a query: the peak, and what stays open after."""

import asyncio
import contextlib
import subprocess
import threading
import time

import httpx2

from harness.servers import serve

QUERY = "/blog/pitfalls/one-query/?seconds={}"
# Without the pool: long enough that all 200 overlap even when a loaded
# machine takes most of a second to send them (0.2 s once let the lean path
# reuse idle threads, and so connections: 34 refused where ~100 are).
NO_POOL_SECONDS = 1


def burst(postgres, env, requests=200, settle=2, seconds=0.2):
    """`requests` concurrent queries of `seconds` each on one uvicorn worker
    with `env`: the answers' statuses, and the connections at the peak and
    `settle` s after. A query must outlast the time the client takes to send
    the whole burst, or the lean path's threads, reused once idle, open fewer
    connections than there are requests."""
    query = QUERY.format(seconds)
    with serve("uvicorn", "--no-access-log", env=env) as url:
        httpx2.get(url + query, timeout=10)  # one request first: the pool opens
        peak, done = [postgres.connections()], threading.Event()

        def sample():
            while not done.is_set():
                # psql itself may be refused while the burst holds every slot.
                with contextlib.suppress(subprocess.CalledProcessError):
                    peak.append(postgres.connections())

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            statuses = asyncio.run(statuses_of(url + query, requests))
        finally:
            done.set()
            sampler.join()
        # The sampler can miss the top on a busy machine; persistent
        # connections are all still open just after the burst.
        peak.append(postgres.connections())
        time.sleep(settle)
        after = postgres.connections()
    return statuses, max(peak), after


async def statuses_of(url, count):
    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as client:
        responses = await asyncio.gather(*(client.get(url) for _ in range(count)))
    return [response.status_code for response in responses]
