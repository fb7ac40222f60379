"""The fan-out as the 2020 posts write it: a new client, and gather.

It works on a quiet afternoon. What it leaves out, each shown by a test in
tests/test_fan_out_naive.py and measured in docs/fan-out.md:
- no bound: every request sends all of its calls at once, so a hundred
  requests of a hundred calls are ten thousand calls in flight;
- no deadline: a call that hangs holds the answer for its whole read timeout;
- no failures as answers: the first call that fails raises (out of gather, or
  from raise_for_status once gather is done), losing every other answer;
- a new client per request: new connections every time, and building the
  client's TLS context costs milliseconds of CPU before the first call.

bounded.py is the same job with all four.
"""

import asyncio
import time

import httpx2
from django.http import JsonResponse

from answers.demos import harmful_demo
from answers.errors import invalid_query

from . import clients
from .addresses import upstream
from .forms import FanOutForm


@harmful_demo
async def view(request):
    """As fast as the bounded view while every call answers; when one fails,
    its error is raised and the others' answers are lost.

    /aggregator/naive/?n=10&delay=1
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    answer = {"way": "naive", **form.cleaned_data}
    try:
        values = await gather_or_raise(upstream(request), **form.cleaned_data)
    except (httpx2.HTTPError, ValueError) as exc:
        answer["elapsed"] = round(time.monotonic() - started, 3)
        answer["error"] = (
            f"a call failed ({exc.__class__.__name__}): its error was raised, and"
            " the answers of the other calls were lost"
        )
        return JsonResponse(answer, status=502)
    answer["elapsed"] = round(time.monotonic() - started, 3)
    answer["results"] = [
        {"task_id": task_id, "value": value} for task_id, value in enumerate(values)
    ]
    return JsonResponse(answer)


async def gather_or_raise(target, n, delay):
    """Every call at once; their JSON answers in task order, or an exception."""
    async with httpx2.AsyncClient(timeout=clients.timeout()) as client:
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
