"""The fan-out as the 2020 posts write it: a new client, and gather.

It works on a quiet afternoon. What it leaves out, each shown by a test in
tests/test_aggregator.py and measured in docs/fan-out.md:
- no bound: every request sends all of its calls at once, so a hundred
  requests of a hundred calls are ten thousand calls in flight;
- no deadline: a call that hangs holds the answer for its whole read timeout,
  and the first call that fails raises out of gather, losing the rest;
- a new client per request: new connections every time, and building the
  client's TLS context costs milliseconds of CPU before the first call.

bounded.py is the same job with all three.
"""

import asyncio

import httpx2

from .results import timeout


async def gather(target, n, delay):
    """Every call at once; their JSON answers in task order, or an exception."""
    async with httpx2.AsyncClient(timeout=timeout()) as client:
        responses = await asyncio.gather(
            *(
                client.get(
                    target.url,
                    params={"task_id": task_id, "delay": delay},
                    headers=target.headers,
                )
                for task_id in range(n)
            )
        )
    return [response.raise_for_status().json() for response in responses]
