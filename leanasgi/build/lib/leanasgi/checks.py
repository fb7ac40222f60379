"""System checks: Django's security checks made to see these subclasses, and a
note wherever a middleware falls back to Django's thread hop.

Django's deploy checks look for the string
"django.middleware.security.SecurityMiddleware" in MIDDLEWARE, so with the
subclasses listed they would warn that the middleware is missing (W001-W003)
and skip every check that depends on it (HSTS, nosniff, the HTTPS redirect,
X-Frame-Options, secure cookies). At start-up each of Django's security checks
is swapped for one that runs while MIDDLEWARE names every subclass by its
Django parent: Django's checks, messages and ids, nothing silenced.

The check registry's sets are not a documented API; the tests fail if an
upgrade changes them.
"""

import functools
from contextlib import contextmanager

from django.conf import settings
from django.core import checks
from django.core.checks.registry import registry
from django.utils.module_loading import import_string

DJANGO_SECURITY_CHECKS = "django.core.checks.security."
DJANGO_MIDDLEWARE = ("django.middleware.", "django.contrib.")


def django_path(path):
    """The dotted path of the Django middleware `path` is or subclasses, else `path`."""
    try:
        middleware = import_string(path)
    except ImportError:
        return path  # Django's own checks report a path that does not import
    for cls in getattr(middleware, "__mro__", ()):
        if cls.__module__.startswith(DJANGO_MIDDLEWARE):
            return f"{cls.__module__}.{cls.__qualname__}"
    return path


@contextmanager
def middleware_as_django_sees_it():
    """MIDDLEWARE with each subclass written as its Django parent, for one
    check. Checks run at start-up, before any request."""
    listed = settings.MIDDLEWARE
    settings.MIDDLEWARE = [django_path(path) for path in listed]
    try:
        yield
    finally:
        settings.MIDDLEWARE = listed


def seeing_subclasses(check):
    @functools.wraps(check)  # keeps the name and the tags the registry filters on
    def wrapper(app_configs, **kwargs):
        with middleware_as_django_sees_it():
            return check(app_configs, **kwargs)

    wrapper.sees_subclasses = True
    return wrapper


def install():
    """Swap each of Django's security checks for its subclass-aware copy."""
    for registered in (registry.registered_checks, registry.deployment_checks):
        for check in list(registered):
            if check.__module__.startswith(DJANGO_SECURITY_CHECKS) and not getattr(
                check, "sees_subclasses", False
            ):
                registered.discard(check)
                registered.add(seeing_subclasses(check))


@checks.register()
def thread_hops(app_configs, **kwargs):
    """leanasgi.I001-I003: a middleware that keeps Django's thread hop, and why."""
    from . import middleware

    listed = set(settings.MIDDLEWARE)
    found = []
    for cls, setting, safe, id in (
        ("SessionMiddleware", "SESSION_ENGINE", middleware.LOOP_SAFE_SESSION_ENGINES, "I001"),
        ("MessageMiddleware", "MESSAGE_STORAGE", middleware.LOOP_SAFE_MESSAGE_STORAGES, "I002"),
    ):  # fmt: skip
        value = getattr(settings, setting)
        if f"leanasgi.middleware.{cls}" in listed and value not in safe:
            found.append(
                checks.Info(
                    f"{setting} {value!r} is not one of Django's own, so "
                    f"leanasgi's {cls} runs its hooks in a thread, as Django does.",
                    hint=f"Known to do no I/O on the event loop: {sorted(safe)}.",
                    id=f"leanasgi.{id}",
                )
            )
    if (
        "leanasgi.middleware.CsrfViewMiddleware" in listed
        and settings.CSRF_USE_SESSIONS
    ):
        found.append(
            checks.Info(
                "CSRF_USE_SESSIONS reads the token from the session, so "
                "leanasgi's CsrfViewMiddleware runs every hook in a thread.",
                hint="With the token in its cookie (the default), safe methods "
                "make no thread hop.",
                id="leanasgi.I003",
            )
        )
    return found
