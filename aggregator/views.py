"""Say-after: the smallest sync/async pair, the seed's first example.

Both wait `delay` seconds and answer `word`; they differ only in how they
wait, and that decides what a waiting request costs the server.
"""

import asyncio
import time

from django.http import JsonResponse

from answers.demos import slow_demo
from answers.errors import invalid_query

from .forms import SayAfterForm


async def say_after_async(request):
    """Wait with asyncio.sleep: the wait holds no thread on this project's
    ASGI handler (leanasgi/), so one event loop serves thousands at once.
    Write this for anything that mostly waits.

    /aggregator/say-after/async/?delay=1&word=hello
    """
    form = SayAfterForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    await asyncio.sleep(form.cleaned_data["delay"])
    return JsonResponse({"saying": form.cleaned_data["word"]})


@slow_demo
def say_after_sync(request):
    """Wait with time.sleep: under WSGI the sleep holds a worker thread; under
    ASGI Django runs this view on a thread of its own, one per waiting request.

    /aggregator/say-after/sync/?delay=1&word=hello
    """
    form = SayAfterForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    time.sleep(form.cleaned_data["delay"])
    return JsonResponse({"saying": form.cleaned_data["word"]})
