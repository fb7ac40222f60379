"""Count PostgreSQL's connections while a server answers a burst of requests
that each hold a query: the peak, and what stays open after."""

import asyncio
import contextlib
import subprocess
import threading
import time

import httpx2

from harness.servers import serve

QUERY = "/blog/pitfalls/one-query/?seconds=0.2"


def burst(postgres, env, requests=200, settle=2):
    """`requests` concurrent queries on one uvicorn worker with `env`: the
    answers' statuses, and the connections at the peak and `settle` s after."""
    with serve("uvicorn", "--no-access-log", env=env) as url:
        httpx2.get(url + QUERY, timeout=10)  # one request first: the pool opens
        peak, done = [postgres.connections()], threading.Event()

        def sample():
            while not done.is_set():
                # psql itself may be refused while the burst holds every slot.
                with contextlib.suppress(subprocess.CalledProcessError):
                    peak.append(postgres.connections())

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            statuses = asyncio.run(statuses_of(url + QUERY, requests))
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
