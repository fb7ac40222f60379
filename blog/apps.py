from django.apps import AppConfig

import leanasgi


class BlogConfig(AppConfig):
    name = "blog"
    verbose_name = "Blog: the ORM in async views"

    def ready(self):
        from . import live

        leanasgi.on_stop(live.end_streams)
        leanasgi.on_shutdown(live.close)
