from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The project itself, installed as an app only to adjust Django's checks."""

    name = "mysite"

    def ready(self):
        from . import checks

        checks.install()
