"""How every outbound HTTP client here is built: timeouts, a pool size, one TLS context.

Every call the site makes has a connect and a read timeout
(AGGREGATOR_CONNECT_TIMEOUT, AGGREGATOR_READ_TIMEOUT). The fan-outs, the
two-service quote and the lab's client all take their options from here.
"""

import functools

import httpx2
from django.conf import settings


@functools.cache
def tls():
    """One TLS context for every client: building one reads the whole CA bundle,
    about 20 ms, which a client per request would otherwise pay each time."""
    return httpx2.create_ssl_context()


def timeout(read=None):
    return httpx2.Timeout(
        settings.AGGREGATOR_READ_TIMEOUT if read is None else read,
        connect=settings.AGGREGATOR_CONNECT_TIMEOUT,
    )


def options(max_connections=None, read=None):
    """Keyword arguments for httpx2.Client or AsyncClient: the site's timeouts,
    a pool of `max_connections` (AGGREGATOR_MAX_IN_FLIGHT unless given) and
    the shared TLS context."""
    size = (
        settings.AGGREGATOR_MAX_IN_FLIGHT
        if max_connections is None
        else max_connections
    )
    return {
        "timeout": timeout(read),
        "limits": httpx2.Limits(max_connections=size),
        "verify": tls(),
    }
