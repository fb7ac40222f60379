"""System checks: Django's security checks made to see these subclasses, a
note wherever a lean class falls back to Django's thread hop (I001-I003), and
a warning for each middleware or receiver that costs every request a thread
(W001, W002).

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
import inspect
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


# Django's own request_started receivers: the lean handler moves them.
MOVED_RECEIVERS = ("django.db.reset_queries", "django.db.close_old_connections")


def dotted(thing):
    """A callable's dotted name; an instance's class's."""
    named = thing if hasattr(thing, "__qualname__") else type(thing)
    return f"{named.__module__}.{named.__qualname__}"


def thread_cost(middleware):
    """Why `middleware` makes every request borrow a thread, or None."""
    from django.utils.deprecation import MiddlewareMixin

    from .middleware import OnTheLoop

    if not getattr(middleware, "async_capable", False):
        return "it is sync-only, so Django runs it, and every request, in a thread"
    hooks = []
    mixin = isinstance(middleware, type) and issubclass(middleware, MiddlewareMixin)
    # A twin's own hooks stay on the loop where they can (thread_hops says
    # where they cannot); an own __acall__ is trusted as written.
    lean = isinstance(middleware, type) and issubclass(middleware, OnTheLoop)
    if mixin and not lean and middleware.__acall__ is MiddlewareMixin.__acall__:
        hooks = [
            h for h in ("process_request", "process_response") if hasattr(middleware, h)
        ]
    view_hook = getattr(middleware, "process_view", None)
    # A class with an async aprocess_view is taken to put it in place of
    # process_view in async mode, as the twins here do: a convention of
    # this package's, which the check cannot see from the class.
    swapped = inspect.iscoroutinefunction(getattr(middleware, "aprocess_view", None))
    if view_hook and not inspect.iscoroutinefunction(view_hook) and not swapped:
        hooks.append("process_view")
    if hooks:
        return f"Django sends its {' and '.join(hooks)} through a thread"
    return None


@checks.register()
def thread_costs(app_configs, **kwargs):
    """leanasgi.W001: a MIDDLEWARE entry that makes every request borrow a
    thread; leanasgi.W002: a sync request_started receiver, which does too."""
    from django.core.signals import request_started

    from .handler import LeanASGIHandler

    found = []
    for path in settings.MIDDLEWARE:
        try:
            cost = thread_cost(import_string(path))
        except ImportError:
            continue  # Django's own checks and start-up report it
        if cost is None:
            continue
        parent = django_path(path)
        lean = f"leanasgi.middleware.{parent.rpartition('.')[2]}"
        if parent.startswith(DJANGO_MIDDLEWARE) and has_lean(lean):
            hint = (
                f"Use {lean!r}, whose hooks stay on the loop."
                if parent == path
                else f"Subclass {lean!r} in its place: its hooks stay on the loop."
            )
        else:
            hint = (
                "Make it async-capable with an async path of its own (Django's"
                " docs: 'Asynchronous support' in Middleware), serve what it does"
                " outside Django (get_asgi_application(wrap=...)), or move its work"
                " into the views that need it."
            )
        found.append(
            checks.Warning(
                f"{path!r} makes every request hold a thread to its end: {cost}.",
                hint=hint,
                obj=path,
                id="leanasgi.W001",
            )
        )
    sync_receivers, _ = request_started._live_receivers(LeanASGIHandler)
    for receiver in sync_receivers:
        name = dotted(receiver)
        if name in MOVED_RECEIVERS:
            continue
        found.append(
            checks.Warning(
                f"request_started receiver {name!r} is sync, so every request"
                " runs it in a thread, and holds that thread to its end.",
                hint="Connect an async receiver instead (async def), or a"
                " request_finished one, which may stay sync.",
                obj=name,
                id="leanasgi.W002",
            )
        )
    return found


def has_lean(path):
    try:
        import_string(path)
    except ImportError:
        return False
    return True
