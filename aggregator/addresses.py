"""Where a call goes: a Target, and this same server's address for one.

The aggregator's fan-outs and the lab's runner both call this server.
"""

import contextlib
import ipaddress
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse


@dataclass(frozen=True)
class Target:
    """Where the calls go: a URL, and headers to send with each call."""

    url: str
    headers: dict = field(default_factory=dict)


def this_server(request, url_name):
    """The URL `url_name` on the server that is answering `request`.

    It is always a loopback address, on the port the server listens on
    (SERVER_PORT comes from the listening socket under every server here),
    never the Host header, so nothing a client sends chooses where the server
    connects. The request's validated host is passed on only as a header, so
    that ALLOWED_HOSTS and the HTTPS redirect accept the call. A server on a
    unix socket or on one non-loopback address needs AGGREGATOR_UPSTREAM_URL.
    """
    host = "127.0.0.1"
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(request.META.get("SERVER_NAME", ""))
        if address.is_loopback:
            host = f"[{address}]" if address.version == 6 else str(address)
    headers = {"Host": request.get_host()}
    if request.is_secure():
        headers["X-Forwarded-Proto"] = "https"
    url = f"http://{host}:{request.META['SERVER_PORT']}{reverse(url_name)}"
    return Target(url, headers)


def upstream(request, url_name="aggregator:upstream_async"):
    """Where the fan-outs call: AGGREGATOR_UPSTREAM_URL if set, else `url_name`
    (the slow service, waiting the async way) on this same server."""
    if settings.AGGREGATOR_UPSTREAM_URL:
        return Target(settings.AGGREGATOR_UPSTREAM_URL)
    return this_server(request, url_name)
