"""Two ways to read Redis from an async view, served by bench/redis_probe_settings.py.

- /redis/django-cache: Django's cache API, `await cache.aget(key)`. Django's
  Redis backend uses the sync redis client, so aget runs it in a thread;
- /redis/asyncio: redis.asyncio used directly, on the event loop.
"""

import redis.asyncio as aredis
from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.urls import path

KEY = "bench:probe"
VALUE = "x" * 100

_client = None


async def django_cache(request):
    value = await cache.aget(KEY)
    if value is None:
        await cache.aset(KEY, VALUE)
    return JsonResponse({"value": value})


async def redis_asyncio(request):
    global _client
    if _client is None:  # one client, with its pool, for the server's loop
        _client = aredis.from_url(settings.REDIS_URL, decode_responses=True)
    value = await _client.get(KEY)
    if value is None:
        await _client.set(KEY, VALUE)
    return JsonResponse({"value": value})


urlpatterns = [
    path("redis/django-cache", django_cache),
    path("redis/asyncio", redis_asyncio),
    path("healthz", lambda request: JsonResponse({"status": "ok"})),
]
