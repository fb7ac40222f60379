"""An anchor, not a way to serve this project: django-bolt serving the say-after contract.

django-bolt (a dev dependency only) is a Rust HTTP server that calls Python
handlers with msgspec validation and gives them Django's ORM, settings and
apps. It skips Django's request handler, its middleware and its URL
resolver, so its row in `make bench` shows what a reader might pick instead
when those are not needed, not what Django can do. Served by
`DJANGO_SETTINGS_MODULE=bench.bolt_settings python manage.py runbolt`.
"""

import asyncio
from typing import Annotated

import msgspec
from django.conf import settings
from django_bolt import BoltAPI

api = BoltAPI()

Delay = Annotated[int, msgspec.Meta(ge=0, le=settings.SAY_AFTER_MAX_DELAY)]
Word = Annotated[
    str, msgspec.Meta(min_length=1, max_length=settings.SAY_AFTER_MAX_WORD_LENGTH)
]


@api.get("/api/say-after")
async def say_after(delay: Delay, word: Word):
    """django-ninja's say-after: wait `delay` seconds, then answer `word`."""
    await asyncio.sleep(delay)
    return {"saying": word}
