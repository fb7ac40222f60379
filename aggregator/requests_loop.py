"""The sync loop with requests, where most sync code starts: as slow as httpx2's."""

import time

import requests
from django.conf import settings

from answers.demos import slow_demo

from . import sync_calls
from .results import deadline_passed, gone_away, no_answer, read_answer, unreachable


@slow_demo
def view(request):
    """/aggregator/requests-loop/?n=10&delay=1"""
    return sync_calls.fan_out(request, "requests-loop", one_by_one)


def one_by_one(target, n, delay, gone=None):
    """Each call after the last with a requests.Session, by the same deadline."""
    started = time.monotonic()
    results = []
    with requests.Session() as session:
        for task_id in range(n):
            left = sync_calls.remaining(started)
            if gone and gone.is_set():
                results.append(gone_away(task_id))
                continue
            if left <= 0:
                results.append(deadline_passed(task_id))
                continue
            read = min(settings.AGGREGATOR_READ_TIMEOUT, left)
            try:
                with session.get(
                    target.url,
                    params={"task_id": task_id, "delay": delay},
                    headers=target.headers,
                    timeout=(settings.AGGREGATOR_CONNECT_TIMEOUT, read),
                    stream=True,
                ) as response:
                    # read1: whatever has arrived, not a full buffer's worth.
                    pieces = iter(lambda: response.raw.read1(65536), b"")
                    body = sync_calls.read_before_deadline(pieces, started)
            except requests.Timeout:
                result = no_answer(task_id)
            except requests.RequestException as exc:
                result = unreachable(task_id, exc)
            else:
                if body is None:
                    result = deadline_passed(task_id)
                else:
                    result = read_answer(task_id, response.status_code, body)
            results.append(result)
    return results
