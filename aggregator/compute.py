"""A view that computes: ~50 ms of pure-Python work, three ways.

Async helps a view that waits, not one that works. Computing inside
`async def` holds the event loop, and every other request on the worker
waits for it; the same work handed to a thread leaves the loop free (the
GIL still shares one core between them, a few milliseconds at a time); a
sync view gets that thread from Django. docs/pitfalls.md has the figures,
tests/test_compute.py bounds them on real servers.
"""

import time

from asgiref.sync import sync_to_async
from django import forms
from django.conf import settings
from django.http import JsonResponse

from answers.demos import harmful_demo
from answers.errors import invalid_query


class ComputeForm(forms.Form):
    ms = forms.IntegerField(
        min_value=1,
        max_value=settings.COMPUTE_MAX_MS,
        help_text=f"milliseconds of work, 1 to {settings.COMPUTE_MAX_MS}",
    )


def crunch(ms):
    """Pure-Python arithmetic for `ms` milliseconds of CPU: it holds the GIL
    all along, as template rendering or parsing a large JSON body does."""
    deadline = time.perf_counter() + ms / 1000
    rounds = 0
    while time.perf_counter() < deadline:
        total = 0
        for number in range(1000):
            total += number * number % 7
        rounds += 1
    return rounds


def done(ms, rounds, started, how):
    return JsonResponse(
        {
            "ms": ms,
            "rounds": rounds,
            "how": how,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )


@harmful_demo
async def compute_on_the_loop(request):
    """PITFALL: CPU work inside `async def` stalls the event loop: every
    request on this worker waits until it ends."""
    started = time.perf_counter()
    form = ComputeForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    ms = form.cleaned_data["ms"]
    return done(ms, crunch(ms), started, "on the event loop")


async def compute_in_a_thread(request):
    """The fix in an async view: the work goes to a thread, the loop stays
    free to answer the others."""
    started = time.perf_counter()
    form = ComputeForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    ms = form.cleaned_data["ms"]
    rounds = await sync_to_async(crunch)(ms)
    return done(ms, rounds, started, "in a thread, from an async view")


def compute_sync(request):
    """Or a plain sync view: under ASGI Django runs it in a thread already."""
    started = time.perf_counter()
    form = ComputeForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    ms = form.cleaned_data["ms"]
    return done(ms, crunch(ms), started, "a sync view")
