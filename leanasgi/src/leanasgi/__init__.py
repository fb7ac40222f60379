"""Serve Django over ASGI so that a request that only waits holds no thread."""

from .application import (
    Application,
    get_asgi_application,
    mark_serving_loop,
    on_serving_loop,
    on_shutdown,
    stats,
)

__all__ = [
    "Application",
    "get_asgi_application",
    "mark_serving_loop",
    "on_serving_loop",
    "on_shutdown",
    "stats",
]
__version__ = "0.1.0"
