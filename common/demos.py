"""Demos whose lesson is that they hurt the server: on in development, off
with DEBUG off unless DJANGO_DEMOS=1 (settings.DEMOS), as the lab is."""

import functools
from inspect import iscoroutinefunction

from django.conf import settings
from django.http import JsonResponse


def harmful_demo(view):
    """A 404 JSON answer in place of `view` while settings.DEMOS is off."""

    def off():
        return JsonResponse(
            {
                "error": "this demo harms the server, so it is off in production",
                "allowed": "on with DJANGO_DEBUG=1, or DJANGO_DEMOS=1",
            },
            status=404,
        )

    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def gated(request, *args, **kwargs):
            if not settings.DEMOS:
                return off()
            return await view(request, *args, **kwargs)

    else:

        @functools.wraps(view)
        def gated(request, *args, **kwargs):
            if not settings.DEMOS:
                return off()
            return view(request, *args, **kwargs)

    return gated
