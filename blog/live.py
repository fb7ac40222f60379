"""Live like counts: each post's count, broadcast to the pages watching it.

Two backends behind one small interface (`broadcast()`), chosen by REDIS_URL:

- without it, in-process: a like reaches the pages connected to the same
  process, which is all there is under `make run`;
- with it, Redis pub/sub through redis.asyncio, so a like on any process
  reaches every page. Each process keeps ONE Redis connection for its
  subscriptions, whatever the number of pages: it subscribes to a post's
  channel while at least one page here watches that post, and hands each
  message to those pages itself. A thousand open pages cost one connection.

Either way, this process's watchers live in a Hub: per post, one small queue
per open page. The count is its own event id: likes only go up, so a page that
reconnects with Last-Event-ID 41 and finds 43 has missed something and is sent
43 at once; one that finds 41 is sent nothing.

A watcher's queue keeps only the newest count: a slow page skips counts it
would have overwritten anyway, and no queue grows without bound.
"""

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict

import redis.asyncio as aredis
from django.conf import settings
from redis.exceptions import RedisError

import leanasgi

logger = logging.getLogger(__name__)

CLOSED = None  # put in a watcher's queue when its broadcast went away


class Unavailable(Exception):
    """The broadcast cannot take new watchers now (Redis is down)."""


class Hub:
    """This process's watchers: post id -> one queue per open page."""

    def __init__(self):
        self.watchers = defaultdict(set)

    def add(self, post_id):
        queue = asyncio.Queue(maxsize=1)
        self.watchers[post_id].add(queue)
        return queue

    def remove(self, post_id, queue):
        """Forget a watcher; True when it was the post's last one here."""
        self.watchers[post_id].discard(queue)
        if not self.watchers[post_id]:
            del self.watchers[post_id]
            return True
        return False

    def deliver(self, post_id, count):
        for queue in self.watchers.get(post_id, ()):
            newest(queue, count)

    def close_all(self):
        for queues in self.watchers.values():
            for queue in queues:
                newest(queue, CLOSED)

    def count(self):
        return sum(len(queues) for queues in self.watchers.values())


def newest(queue, value):
    """Put `value` in a one-slot queue, replacing what it held."""
    with contextlib.suppress(asyncio.QueueEmpty):
        queue.get_nowait()
    queue.put_nowait(value)


class InProcess:
    """The embedded default: nothing to install, one process's pages only."""

    name = "in-process"

    def __init__(self):
        self.hub = Hub()

    async def check(self):
        pass  # always available

    async def publish(self, post_id, count):
        self.hub.deliver(post_id, count)

    @contextlib.asynccontextmanager
    async def watch(self, post_id):
        queue = self.hub.add(post_id)
        try:
            yield queue
        finally:
            self.hub.remove(post_id, queue)

    async def close(self):
        self.hub.close_all()


class RedisPubSub:
    """Redis pub/sub through redis.asyncio: every process sees every like."""

    name = "redis"

    def __init__(self, url):
        # Short timeouts: a Redis that is down or hung answers in a second at
        # most, so a page gets its 503 and a like its answer at once.
        self.redis = aredis.from_url(
            url,
            socket_connect_timeout=settings.REDIS_TIMEOUT,
            socket_timeout=settings.REDIS_TIMEOUT,
            health_check_interval=30,
        )
        self.hub = Hub()
        self.pubsub = None
        self.reader = None
        self.lock = asyncio.Lock()

    async def check(self):
        """Raise Unavailable unless the subscription connection is up."""
        async with self.lock:
            if self.pubsub is not None and not self.reader.done():
                return
            await self.reset()
            pubsub = self.redis.pubsub()
            try:
                # A channel nobody publishes to keeps the connection subscribed
                # (and so listening) while no post is watched here.
                await pubsub.subscribe(channel("none"))
                # SUBSCRIBE is only sent; its confirmation proves Redis is there
                # (a pooled connection to a Redis that has gone sends fine).
                confirmed = await pubsub.get_message(timeout=settings.REDIS_TIMEOUT)
            except (RedisError, OSError) as exc:
                await pubsub.aclose()
                raise Unavailable(str(exc)) from exc
            if confirmed is None:
                await pubsub.aclose()
                raise Unavailable("Redis did not confirm the subscription")
            self.pubsub = pubsub
            self.reader = asyncio.create_task(self.read(pubsub))

    async def reset(self):
        """Drop a broken subscription connection, closing its watchers' streams."""
        if self.pubsub is None:
            return
        self.hub.close_all()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
            await self.reader
        with contextlib.suppress(RedisError, OSError):
            await self.pubsub.aclose()
        self.pubsub = self.reader = None

    async def read(self, pubsub):
        try:
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
                if message is not None:
                    post_id = int(message["channel"].rsplit(b":", 1)[1])
                    self.hub.deliver(post_id, int(message["data"]))
        except (RedisError, OSError) as exc:
            logger.warning("live likes: lost the Redis subscription: %s", exc)
            # The pages reconnect on their own (EventSource) and get a 503
            # until Redis is back; check() then subscribes afresh.
            self.hub.close_all()

    async def publish(self, post_id, count):
        await self.redis.publish(channel(post_id), count)

    @contextlib.asynccontextmanager
    async def watch(self, post_id):
        await self.check()
        queue = self.hub.add(post_id)
        try:
            if len(self.hub.watchers[post_id]) == 1:
                await self.pubsub.subscribe(channel(post_id))
            yield queue
        finally:
            if self.hub.remove(post_id, queue) and self.pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self.pubsub.unsubscribe(channel(post_id))

    async def close(self):
        await self.reset()
        await self.redis.aclose()


def channel(post_id):
    return f"blog:likes:{post_id}"


_broadcasts = weakref.WeakKeyDictionary()  # server event loop -> backend


def broadcast():
    """The server loop's backend: Redis when REDIS_URL is set, else in-process.

    One per loop, since asyncio objects belong to the loop that made them; an
    ASGI server has one loop per process.
    """
    loop = asyncio.get_running_loop()
    if loop not in _broadcasts:
        url = settings.REDIS_URL
        _broadcasts[loop] = RedisPubSub(url) if url else InProcess()
    return _broadcasts[loop]


async def publish(post_id, count):
    """Tell every watcher of `post_id` its new count. Never raises: the like is
    already recorded, and a page that misses it catches up when it reconnects."""
    try:
        if leanasgi.on_serving_loop():
            await broadcast().publish(post_id, count)
        elif settings.REDIS_URL:
            # WSGI: a one-off loop per view, so a one-off connection too. In
            # process, a one-off loop has no watchers to tell.
            async with aredis.from_url(
                settings.REDIS_URL, socket_timeout=settings.REDIS_TIMEOUT
            ) as client:
                await client.publish(channel(post_id), count)
    except (RedisError, OSError) as exc:
        logger.warning("live likes: could not publish post %s: %s", post_id, exc)
        return False
    return True


def end_streams():
    """When the server is told to stop: every open page's stream here ends,
    and its browser reconnects (to another server, behind a proxy)."""
    backend = _broadcasts.get(asyncio.get_running_loop())
    if backend is not None:
        backend.hub.close_all()


async def close():
    """At the server's shutdown (registered in blog/apps.py)."""
    backend = _broadcasts.pop(asyncio.get_running_loop(), None)
    if backend is not None:
        await backend.close()
