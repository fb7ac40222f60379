"""Failed logins slowed down: at most so many attempts per username and per
client address in a fixed window, counted in Django's cache (in-process by
default, shared through Redis when REDIS_URL is set).

An attempt is counted before its password is checked, with the cache's
atomic incr, so a burst of 60 at once checks no more passwords than the
limit; a login that succeeds clears its username's count.
"""

import contextlib
import hashlib
import time

from django.conf import settings
from django.core.cache import cache


class Unavailable(Exception):
    """The cache that keeps the counts did not answer (Redis is down)."""


async def retry_after(request, username):
    """Seconds until this attempt may be made, or 0: then it is counted.
    The address is counted first, and an attempt it refuses leaves the
    username's count alone, so a spray from one address cannot lock out
    every username it names."""
    now = time.time()
    window = int(now // settings.LOGIN_WINDOW)
    wait = int((window + 1) * settings.LOGIN_WINDOW - now) + 1
    for key, limit in (
        (
            f"login:address:{window}:{client_address(request)}",
            settings.LOGIN_ATTEMPTS_PER_ADDRESS,
        ),
        (username_key(username, window), settings.LOGIN_ATTEMPTS_PER_USERNAME),
    ):
        try:
            await cache.aadd(key, 0, settings.LOGIN_WINDOW * 2)
            count = await cache.aincr(key)
        except Exception as exc:  # the backend's own errors: Redis's, say
            raise Unavailable(exc) from exc
        if count > limit:
            return wait
    return 0


async def succeeded(username):
    """A right password: this username's failures no longer count."""
    window = int(time.time() // settings.LOGIN_WINDOW)
    with contextlib.suppress(Exception):  # a count left behind only expires
        await cache.adelete(username_key(username, window))


def username_key(username, window):
    # Hashed: a username can hold characters a cache key may not.
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    return f"login:username:{window}:{digest}"


def client_address(request):
    """The peer's address, as the server gives it. Behind a proxy, the server
    must be told to trust the proxy's X-Forwarded-For (uvicorn's and
    gunicorn's --forwarded-allow-ips), or this is the proxy's address and
    the limit per address becomes one for the whole site."""
    return request.META.get("REMOTE_ADDR", "")
