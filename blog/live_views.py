"""Live likes' views: a post's like count as server-sent events, one per change.

A connection per open page, held for as long as the page is open: it holds
no thread while it waits. The broadcast that wakes it is live.py's; the page's
script, static/blog/live.js.
"""

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse, StreamingHttpResponse

import leanasgi
from answers.errors import try_again

from . import live
from .models import Post


async def post_events(request, post_id):
    """This post's like count as server-sent events, one per change.

    The connection stays open while the page does, and holds no thread while
    it waits. A browser that reconnects sends Last-Event-ID (the count it last
    saw) and gets the new count at once.
    """
    if await read_likes(post_id, request) is None:
        raise Http404(f"No post with id {post_id}.")
    try:
        await live.broadcast().check()
    except live.Unavailable:
        return try_again(
            "live updates are unavailable; the page's count is as loaded", seconds=5
        )
    return StreamingHttpResponse(
        like_events(post_id, last_seen(request)),
        content_type="text/event-stream",
        # No cache, and no proxy buffering (nginx reads X-Accel-Buffering).
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# The live pages' reads, on threads of their own: a burst of other views
# that queue work on the loop's default executor cannot delay a first event.
LIVE_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="live-likes")


@sync_to_async(thread_sensitive=False, executor=LIVE_READS)
def read_likes(post_id, request=None):
    """The post's like count, or None when there is no such post (or, given
    the request, none its user may read: a draft is its author's).

    Not on the request's own thread: on this project's ASGI handler a request
    keeps the thread of its first sync call until its response ends, which for
    a stream open for hours would be a thread per open page. This read runs
    on LIVE_READS instead, and gives its database connection back at once, so
    an open page holds neither. request.user is safe to touch here: this is
    not the event loop's thread.
    """
    try:
        posts = (
            Post.objects if request is None else Post.objects.visible_to(request.user)
        )
        return posts.filter(pk=post_id).values_list("likes", flat=True).first()
    finally:
        connection.close()


def last_seen(request):
    try:
        return int(request.headers.get("Last-Event-ID", ""))
    except ValueError:
        return None


async def like_events(post_id, seen):
    # aclosing: when the page goes, the watch ends now, not at garbage collection.
    async with contextlib.aclosing(events_while_watching(post_id, seen)) as events:
        with contextlib.suppress(live.Unavailable):  # Redis went away: just end
            async for event in events:
                yield event


async def events_while_watching(post_id, seen):
    if leanasgi.is_stopping():
        yield RECONNECT
        return
    async with live.broadcast().watch(post_id) as updates:
        # Watching first, then reading: a like in between is not missed.
        likes = await read_likes(post_id)
        if likes != seen:
            yield like_event(likes)
            seen = likes
        while True:
            try:
                likes = await asyncio.wait_for(
                    updates.get(), settings.BLOG_EVENTS_HEARTBEAT
                )
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if likes is live.CLOSED:
                # The server is stopping, or the broadcast went away: the
                # browser reconnects, sending the count it has as Last-Event-ID.
                yield RECONNECT
                return
            if seen is None or likes > seen:
                yield like_event(likes)
                seen = likes


# The last event of a stream that the server ends: reconnect in half a second.
RECONNECT = "retry: 500\nevent: reconnect\ndata: reconnect\n\n"


def like_event(likes):
    # The count is the event id: likes only go up (blog/live.py).
    return f"id: {likes}\nevent: likes\ndata: {likes}\n\n"


async def live_status(request):
    """Which broadcast serves this process, and how many pages it tells."""
    backend = live.broadcast()
    return JsonResponse({"backend": backend.name, "watchers": backend.hub.count()})
