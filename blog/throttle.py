"""Failed logins slowed down: at most so many attempts per username and per
client address in a fixed window, counted in Django's cache (in-process by
default, shared through Redis when REDIS_URL is set).

An attempt is counted before its password is checked, with the cache's
atomic incr, so a burst of 60 at once checks no more passwords than the
limit; a login that succeeds clears its username's count.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


async def retry_after(request, username):
    """Seconds until this attempt may be made, or 0: then it is counted."""
    now = time.time()
    window = int(now // settings.LOGIN_WINDOW)
    wait = int((window + 1) * settings.LOGIN_WINDOW - now) + 1
    for key, limit in (
        (username_key(username, window), settings.LOGIN_ATTEMPTS_PER_USERNAME),
        (
            f"login:address:{window}:{client_address(request)}",
            settings.LOGIN_ATTEMPTS_PER_ADDRESS,
        ),
    ):
        await cache.aadd(key, 0, settings.LOGIN_WINDOW * 2)
        if await cache.aincr(key) > limit:
            return wait
    return 0


async def succeeded(username):
    """A right password: this username's failures no longer count."""
    window = int(time.time() // settings.LOGIN_WINDOW)
    await cache.adelete(username_key(username, window))


def username_key(username, window):
    # Hashed: a username can hold characters a cache key may not.
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    return f"login:username:{window}:{digest}"


def client_address(request):
    """The peer's address. Behind a proxy it is the proxy's, so the limit per
    address is wide (LOGIN_ATTEMPTS_PER_ADDRESS) and per username narrow."""
    return request.META.get("REMOTE_ADDR", "")
