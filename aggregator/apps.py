from django.apps import AppConfig

import leanasgi


class AggregatorConfig(AppConfig):
    name = "aggregator"
    verbose_name = "Say-after and fan-out demos"

    def ready(self):
        from . import bounded

        leanasgi.on_shutdown(bounded.close_clients)
