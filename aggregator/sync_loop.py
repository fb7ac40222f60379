"""The sync fan-out: one httpx2 call after another.

The time is the sum of the calls. Simple, and fine for one or two; for ten
it is ten times the wait.
"""

import time

import httpx2

from answers.demos import slow_demo

from . import clients, sync_calls
from .results import gone_away


@slow_demo
def view(request):
    """/aggregator/sync-loop/?n=10&delay=1"""
    return sync_calls.fan_out(request, "sync-loop", one_by_one)


def one_by_one(target, n, delay, gone=None):
    """Each call after the last; `gone`, a threading.Event set when the
    client hangs up, stops the loop between calls."""
    started = time.monotonic()
    with httpx2.Client(verify=clients.tls()) as client:
        return [
            gone_away(i)
            if gone and gone.is_set()
            else sync_calls.fetch_httpx(client, target, i, delay, started)
            for i in range(n)
        ]
