"""Django's deployment checks for the security middleware, for subclasses too.

Django's security.W001, W002 and W003 look for Django's own dotted paths in
MIDDLEWARE, so they fail on this project's event-loop subclasses
(mysite/middleware.py) and are silenced in settings. Worse, Django then skips
the checks that depend on SecurityMiddleware being present (HSTS, nosniff,
the HTTPS redirect: W004, W005, W006, W008, W021). These checks put both
back: each of the three middleware must be in MIDDLEWARE as Django's class
or a subclass of it, and with SecurityMiddleware in place its settings are
checked as Django would.
"""

from django.conf import settings
from django.core import checks
from django.core.checks.security import base, csrf
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string

REQUIRED = [
    (SecurityMiddleware, base.W001),
    (XFrameOptionsMiddleware, base.W002),
    (CsrfViewMiddleware, csrf.W003),
]


def installed(middleware_class):
    """Whether MIDDLEWARE has `middleware_class` or a subclass of it."""
    for path in settings.MIDDLEWARE:
        try:
            candidate = import_string(path)
        except ImportError:
            continue  # Django's own check reports a path that does not import
        if isinstance(candidate, type) and issubclass(candidate, middleware_class):
            return True
    return False


@checks.register(checks.Tags.security, deploy=True)
def check_security_middleware(app_configs, **kwargs):
    found = [
        warning
        for middleware_class, warning in REQUIRED
        if not installed(middleware_class)
    ]
    if installed(SecurityMiddleware):
        found += security_settings()
    return [project_warning(warning) for warning in found]


def security_settings():
    """The settings checks Django runs only when its own SecurityMiddleware is listed."""
    hsts = settings.SECURE_HSTS_SECONDS
    failed = [
        (not hsts, base.W004),
        (hsts and settings.SECURE_HSTS_INCLUDE_SUBDOMAINS is not True, base.W005),
        (hsts and settings.SECURE_HSTS_PRELOAD is not True, base.W021),
        (settings.SECURE_CONTENT_TYPE_NOSNIFF is not True, base.W006),
        (settings.SECURE_SSL_REDIRECT is not True, base.W008),
    ]
    return [warning for failing, warning in failed if failing]


def project_warning(warning):
    """Django's warning under this project's id, so that silencing Django's
    W001 to W003 does not silence it."""
    return checks.Warning(warning.msg, hint=warning.hint, id="mysite." + warning.id)
