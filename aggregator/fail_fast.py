"""Fail fast: the fan-out in an asyncio.TaskGroup, for answers that need every call.

The bounded view keeps the other calls running when one fails and answers
with what it has: right when a partial answer is useful. When it is not (a
quote missing one price is no quote), a TaskGroup cancels the other calls
the moment one fails, so the answer comes at once and the upstream sees them
hang up; asyncio.timeout bounds the whole. The bound, the shared client and
the calls are bounded.py's.
"""

import asyncio
import time

from django.conf import settings

from answers.errors import invalid_query

from .addresses import upstream
from .bounded import fetch, shared_client
from .forms import FanOutForm
from .results import answer, deadline_passed, failed


async def view(request):
    """Every answer, or a 502 the moment one call fails, the others cancelled.

    /aggregator/fail-fast/?n=10&delay=1
    """
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    results = await all_or_nothing(upstream(request), **form.cleaned_data)
    return answer("fail-fast", form, started, results, partial=False)


class CallFailed(Exception):
    def __init__(self, result):
        super().__init__(result.error)
        self.result = result


async def all_or_nothing(target, n, delay):
    """Every call's Result in task order: all answers, or the first failure
    and a `cancelled` entry for each call it cut short."""
    answered, failures, timed_out = {}, [], False
    async with shared_client() as shared:

        async def call(task_id):
            result = await fetch(shared, target, task_id, delay)
            if not result.ok:
                raise CallFailed(result)  # the TaskGroup cancels the others
            answered[task_id] = result

        try:
            async with asyncio.timeout(settings.AGGREGATOR_DEADLINE):
                try:
                    async with asyncio.TaskGroup() as group:
                        for task_id in range(n):
                            group.create_task(call(task_id))
                except* CallFailed as raised:
                    failures = [exc.result for exc in raised.exceptions]
        except TimeoutError:
            timed_out = True
    for failure in failures:
        answered[failure.task_id] = failure
    return [answered.get(i) or cut_short(i, failures, timed_out) for i in range(n)]


def cut_short(task_id, failures, timed_out):
    if timed_out:
        return deadline_passed(task_id)
    first = failures[0]
    # A call cut short shares the cause: a timeout makes the answer a 504.
    message = f"cancelled: call {first.task_id} failed first"
    return failed(task_id, message, timed_out=first.timed_out)
