"""Django's stock middleware, with the hooks that do no I/O run on the event loop.

Under ASGI, ``MiddlewareMixin`` sends every ``process_request`` and
``process_response`` through ``sync_to_async``: a thread hop, even to set a
header, and under the lean handler the request then keeps that thread to its
end. Each class here is Django's own, unchanged in what it checks and sets;
only *where* a hook runs changes. A hook runs on the loop only where Django's
code is known to do no I/O there: the session engines, message storages and
CSRF settings Django ships. Anything else (a custom ``SESSION_ENGINE`` or
``MESSAGE_STORAGE``, ``CSRF_USE_SESSIONS``) keeps Django's thread hop, and a
system check says so. Under WSGI they are Django's classes.

The two auth classes load only when named (see ``__getattr__``), so that a
project without ``django.contrib.auth`` can list the others.
"""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, gzip, http, locale, security
from django.utils import translation

from .handler import ThreadsBusy, busy_response

try:
    from django.middleware import csp
except ImportError:  # Django 5.2: no CSP support yet
    csp = None

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
# A body past this is compressed or hashed in a thread: CPU, not I/O, but a
# large one would stall every other request on the loop meanwhile.
LARGE_BODY = 64 * 1024

# Building a store, or checking what it has, does no I/O in these: a store
# loads lazily, on first read, from whoever reads it.
LOOP_SAFE_SESSION_ENGINES = {
    f"django.contrib.sessions.backends.{name}"
    for name in ("db", "cache", "cached_db", "file", "signed_cookies")
}
LOOP_SAFE_MESSAGE_STORAGES = {
    "django.contrib.messages.storage.cookie.CookieStorage",
    "django.contrib.messages.storage.session.SessionStorage",
    "django.contrib.messages.storage.fallback.FallbackStorage",
}


async def hop(hook, request, *args):
    """`hook` on the request's thread; past the cap's wait, the 503 the view
    would get (Django would turn a middleware's ThreadsBusy into a 500)."""
    try:
        return await sync_to_async(hook, thread_sensitive=True)(request, *args)
    except ThreadsBusy as error:
        return busy_response(error)


class OnTheLoop:
    """Mixin for a ``MiddlewareMixin`` subclass: run its hooks without a hop
    unless ``needs_thread(request[, response])`` says the hook about to run
    might block."""

    def needs_thread(self, request, response=None):
        return False

    async def run_hook(self, hook, request, *args):
        if self.needs_thread(request, *args):
            return await hop(hook, request, *args)
        return hook(request, *args)

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = await self.run_hook(self.process_request, request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self.run_hook(self.process_response, request, response)
        return response


def large(response):
    return not response.streaming and len(response.content) > LARGE_BODY


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    """HTTPS redirect and security headers: header work only."""


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    """APPEND_SLASH and friends: URL resolving and headers, no I/O."""


class BrokenLinkEmailsMiddleware(OnTheLoop, common.BrokenLinkEmailsMiddleware):
    """Mails the managers about a 404: only a 404 response hops."""

    def needs_thread(self, request, response=None):
        return response is not None and response.status_code == 404


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    """One header."""


class ConditionalGetMiddleware(OnTheLoop, http.ConditionalGetMiddleware):
    """An ETag and a 304: headers, and a hash of the body (a large one hops)."""

    def needs_thread(self, request, response=None):
        return response is not None and large(response)


class GZipMiddleware(OnTheLoop, gzip.GZipMiddleware):
    """Compression is CPU, not I/O: a large body hops, a stream is compressed
    as it is sent, the rest on the loop."""

    def needs_thread(self, request, response=None):
        return response is not None and large(response)


class LocaleMiddleware(OnTheLoop, locale.LocaleMiddleware):
    """Picks and activates the request's language. The first activation of a
    language in a process reads its catalogs from disk, so that request hops;
    the rest find them in memory. Which languages exist is looked up on disk
    once per language, here, at start-up."""

    loaded = set()  # languages activated in this process: catalogs in memory

    def __init__(self, get_response):
        super().__init__(get_response)
        for code, _ in settings.LANGUAGES:
            translation.check_for_language(code)  # cached for the process

    def wanted(self, request):
        urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
        i18n_patterns_used, _ = is_language_prefix_patterns_used(urlconf)
        return translation.get_language_from_request(
            request, check_path=i18n_patterns_used
        )

    def needs_thread(self, request, response=None):
        if response is not None:
            return False  # URL resolving and headers
        return not {self.wanted(request), settings.LANGUAGE_CODE} <= self.loaded

    async def run_hook(self, hook, request, *args):
        answer = await super().run_hook(hook, request, *args)
        if not args:  # process_request has activated one of the two
            self.loaded.update({self.wanted(request), settings.LANGUAGE_CODE})
        return answer


if csp is not None:

    class ContentSecurityPolicyMiddleware(
        OnTheLoop, csp.ContentSecurityPolicyMiddleware
    ):
        """Django 6's CSP: a lazy nonce, and a header built from settings."""


class SessionMiddleware(OnTheLoop, sessions.SessionMiddleware):
    """Building a Django store does no I/O; only a save does."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.loop_safe = settings.SESSION_ENGINE in LOOP_SAFE_SESSION_ENGINES

    def needs_thread(self, request, response=None):
        if not self.loop_safe:
            return True
        # Django's process_response saves only a modified session, or every
        # one with SESSION_SAVE_EVERY_REQUEST; one with no `modified` it skips.
        session = getattr(request, "session", None)
        return (
            getattr(session, "modified", False) or settings.SESSION_SAVE_EVERY_REQUEST
        )


class MessageMiddleware(OnTheLoop, messages.MessageMiddleware):
    """Storing messages may load the session; building the storage does not."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.loop_safe = settings.MESSAGE_STORAGE in LOOP_SAFE_MESSAGE_STORAGES

    def needs_thread(self, request, response=None):
        if not self.loop_safe:
            return True
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    """As strict as Django's. With the token in a cookie, safe methods never
    leave the loop; with CSRF_USE_SESSIONS every hook hops, as in Django."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            # Django wraps a sync process_view in sync_to_async but calls an
            # async one as it is, so the async twin replaces it here.
            self.process_view = self.aprocess_view

    def needs_thread(self, request, response=None):
        return settings.CSRF_USE_SESSIONS

    async def aprocess_view(self, request, callback, callback_args, callback_kwargs):
        check = super().process_view
        if not self.needs_thread(request) and (
            request.method in SAFE_METHODS or getattr(callback, "csrf_exempt", False)
        ):
            return check(request, callback, callback_args, callback_kwargs)
        # Reading the token may parse request.POST, which can spill to disk.
        return await hop(check, request, callback, callback_args, callback_kwargs)


AUTH = {"AuthenticationMiddleware", "LoginRequiredMiddleware"}


def __getattr__(name):
    # django.contrib.auth's middleware imports its models, which need the
    # auth and contenttypes apps installed: load it only when it is named.
    if name in AUTH:
        from . import auth

        return getattr(auth, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
