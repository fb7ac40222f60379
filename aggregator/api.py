"""The say-after operations of django-ninja's guide to async views, as it
writes them."""

import asyncio
import time

from django.conf import settings
from ninja import Field, Query, Router, Schema

from answers.demos import slow_demo

router = Router(tags=["say-after"])


class SayAfterQuery(Schema):
    delay: int = Field(
        ge=0,
        le=settings.SAY_AFTER_MAX_DELAY,
        description="Seconds to wait before answering.",
    )
    word: str = Field(
        min_length=1,
        max_length=settings.SAY_AFTER_MAX_WORD_LENGTH,
        # The same rule as the Django form's: no NUL character.
        pattern=r"^[^\x00]*$",
        description="What to say.",
    )


class Saying(Schema):
    saying: str


@router.get("/say-after", response=Saying)
async def say_after(request, query: Query[SayAfterQuery]):
    """Wait without blocking, then answer: the guide's flood target."""
    await asyncio.sleep(query.delay)
    return {"saying": query.word}


@router.get("/say-sync", response=Saying)
@slow_demo
def say_sync(request, query: Query[SayAfterQuery]):
    """The blocking twin: Django runs it in a worker thread."""
    time.sleep(query.delay)
    return {"saying": query.word}


@router.get("/say-async", response=Saying)
async def say_async(request, query: Query[SayAfterQuery]):
    """say-after again: the guide's example of mixing sync and async names it
    say-async, beside say-sync, so both of its URLs answer."""
    await asyncio.sleep(query.delay)
    return {"saying": query.word}
