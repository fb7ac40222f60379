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

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, gzip, http, locale, security
from django.utils import translation

from .hooks import OnTheLoop, hop

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


def large(response):
    return not response.streaming and len(response.content) > LARGE_BODY


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    """HTTPS redirect and security headers: header work only."""


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    """APPEND_SLASH and friends: URL resolving and headers, no I/O."""


class BrokenLinkEmailsMiddleware(OnTheLoop, common.BrokenLinkEmailsMiddleware):
    """Mails the managers about a 404: only a 404 response hops."""

    def needs_thread(self, request, response=None):
        # Django's own conditions for mailing, all of them cheap to test.
        if response is None or response.status_code != 404 or settings.DEBUG:
            return False
        path, referer = request.get_full_path(), request.META.get("HTTP_REFERER", "")
        return not self.is_ignorable_request(request, path, request.get_host(), referer)


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    """One header."""


class ConditionalGetMiddleware(OnTheLoop, http.ConditionalGetMiddleware):
    """An ETag and a 304: headers, and a hash of the body (a large one hops)."""

    def needs_thread(self, request, response=None):
        # Django hashes a GET's body only when it has no ETag and may be stored.
        return (
            response is not None
            and request.method == "GET"
            and large(response)
            and self.needs_etag(response)
            and not response.has_header("ETag")
        )


class GZipMiddleware(OnTheLoop, gzip.GZipMiddleware):
    """Compression is CPU, not I/O: a large body Django will compress hops;
    the rest, and an async stream chunk by chunk as it is sent, on the loop."""

    def needs_thread(self, request, response=None):
        return (
            response is not None
            and large(response)
            and not response.has_header("Content-Encoding")
            and gzip.re_accepts_gzip.search(
                request.META.get("HTTP_ACCEPT_ENCODING", "")
            )
            is not None
        )


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

    def process_request(self, request):
        super().process_request(request)
        # It activated one of the two: both catalogs are in memory now.
        self.loaded.update({self.wanted(request), settings.LANGUAGE_CODE})


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
        if response is None:
            return False  # process_request builds the store: no I/O
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


def __dir__():
    return sorted([*globals(), *AUTH])


def __getattr__(name):
    # django.contrib.auth's middleware imports its models, which need the
    # auth and contenttypes apps installed: load it only when it is named.
    if name in AUTH:
        from . import auth

        return getattr(auth, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
