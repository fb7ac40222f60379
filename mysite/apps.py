from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The project itself, installed as an app only to register its checks."""

    name = "mysite"

    def ready(self):
        from . import checks  # noqa: F401 -- registers them
