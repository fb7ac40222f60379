"""Serve Django over ASGI so that a request that only waits holds no thread."""

from .application import (
    Application,
    get_asgi_application,
    is_stopping,
    mark_serving_loop,
    on_serving_loop,
    on_shutdown,
    on_stop,
    stats,
)
from .threads import ThreadsBusy

__all__ = [
    "Application",
    "ThreadsBusy",
    "get_asgi_application",
    "is_stopping",
    "mark_serving_loop",
    "on_serving_loop",
    "on_shutdown",
    "on_stop",
    "stats",
]
__version__ = "0.2.0"
