"""Django's own security checks, made to see this project's middleware subclasses.

Django's deploy checks decide whether, say, SecurityMiddleware is installed by
looking for the string "django.middleware.security.SecurityMiddleware" in
MIDDLEWARE. This project lists event-loop subclasses instead
(mysite/middleware.py), so out of the box Django would warn that the security,
clickjacking and CSRF middleware are missing (W001 to W003) and then skip every
check that depends on them: HSTS, nosniff, the HTTPS redirect, X-Frame-Options
DENY, the referrer policy, secure CSRF and session cookies.

Silencing W001 to W003 would hide a real removal too. Instead, at start-up each
of Django's security checks is swapped for a copy that runs while MIDDLEWARE
names every subclass by its Django parent. The checks, their messages and their
ids stay Django's own, and `check --deploy` reports "0 silenced".

The check registry's sets are not a documented API; tests/test_settings.py
fails if a Django upgrade changes them.
"""

import functools
from contextlib import contextmanager

from django.conf import settings
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
    """MIDDLEWARE with each subclass written as its Django parent, for the
    duration of one check. Checks run once, at start-up, before any request."""
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
    for checks in (registry.registered_checks, registry.deployment_checks):
        for check in list(checks):
            if check.__module__.startswith(DJANGO_SECURITY_CHECKS) and not getattr(
                check, "sees_subclasses", False
            ):
                checks.discard(check)
                checks.add(seeing_subclasses(check))
