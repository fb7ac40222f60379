from django.apps import AppConfig


class LeanASGIConfig(AppConfig):
    """Installed for its system checks; it has no models."""

    name = "leanasgi"
    verbose_name = "Lean ASGI"

    def ready(self):
        from . import checks

        checks.install()
