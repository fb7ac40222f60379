"""Say-after and fan-out views, in sync/async pairs."""

import asyncio
import time

from django.http import JsonResponse

from .forms import SayAfterForm, invalid_query


def say_after_sync(request):
    """Sleep `delay` seconds with time.sleep, then answer `word`.

    Under WSGI the sleep holds a worker thread; under ASGI Django runs this view
    in a thread of its own, so other requests go on meanwhile.
    """
    form = SayAfterForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    time.sleep(form.cleaned_data["delay"])
    return JsonResponse({"saying": form.cleaned_data["word"]})


async def say_after_async(request):
    """Wait `delay` seconds with asyncio.sleep, then answer `word`.

    The wait holds no thread: under ASGI one event loop serves thousands of
    these at once. Use it for anything that mostly waits on I/O.
    """
    form = SayAfterForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    await asyncio.sleep(form.cleaned_data["delay"])
    return JsonResponse({"saying": form.cleaned_data["word"]})
