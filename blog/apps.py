import time

from django.apps import AppConfig
from django.db.backends.signals import connection_created

import leanasgi


def add_sleep_to_sqlite(sender, connection, **kwargs):
    """SQLite has no sleep(): register one, for blog/pitfalls.py's slow query."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("sleep", 1, sqlite_sleep)


def sqlite_sleep(seconds):
    time.sleep(min(float(seconds), 1))
    return 1


class BlogConfig(AppConfig):
    name = "blog"
    verbose_name = "Blog: the ORM in async views"

    def ready(self):
        from . import live

        leanasgi.on_stop(live.end_streams)
        leanasgi.on_shutdown(live.close)
        connection_created.connect(add_sleep_to_sqlite)
