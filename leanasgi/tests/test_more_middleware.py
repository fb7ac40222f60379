"""Every middleware class Django ships is accounted for: a lean subclass whose
hooks stay on the loop where Django's code does no I/O, or a line in the
README saying why it hops. Past the seven defaults: Locale, GZip,
ConditionalGet, LoginRequired and BrokenLinkEmails."""

import ast
import re
from pathlib import Path

import django
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.test import AsyncClient, TestCase, override_settings
from django.urls import path

from leanasgi import middleware

from .server import PACKAGE_DIR
from .test_middleware import hops


@login_not_required
async def public(request):
    return HttpResponse("public " * int(request.GET.get("n", 1)))


async def private(request):
    return HttpResponse("private")


urlpatterns = [path("public", public), path("private", private)]

LEAN = [
    "leanasgi.middleware.SecurityMiddleware",
    "leanasgi.middleware.SessionMiddleware",
    "leanasgi.middleware.LocaleMiddleware",
    "leanasgi.middleware.CommonMiddleware",
    "leanasgi.middleware.BrokenLinkEmailsMiddleware",
    "leanasgi.middleware.GZipMiddleware",
    "leanasgi.middleware.ConditionalGetMiddleware",
    "leanasgi.middleware.CsrfViewMiddleware",
    "leanasgi.middleware.AuthenticationMiddleware",
    "leanasgi.middleware.LoginRequiredMiddleware",
    "leanasgi.middleware.MessageMiddleware",
    "leanasgi.middleware.XFrameOptionsMiddleware",
]


def parent(name):
    """The dotted path of the Django class leanasgi's `name` subclasses."""
    for cls in getattr(middleware, name).__mro__:
        if cls.__module__.startswith(("django.middleware.", "django.contrib.")):
            return f"{cls.__module__}.{cls.__qualname__}"
    raise AssertionError(name)


STOCK = [parent(name.rpartition(".")[2]) for name in LEAN]


def django_middleware():
    """The dotted path of every middleware class Django ships, read from its
    source (some modules import models of apps this project lacks)."""
    root = Path(django.__file__).parent
    files = [*root.glob("middleware/*.py"), *root.glob("contrib/*/middleware.py")]
    for file in sorted(files):
        module = ".".join(file.relative_to(root.parent).with_suffix("").parts)
        for node in ast.parse(file.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Middleware"):
                yield f"{module}.{node.name}"


@override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=LEAN, LOGIN_URL="/login")
class MoreMiddlewareTests(TestCase):
    async def test_a_known_language_makes_no_hop(self):
        """Locale: the first request in French hops once, to load its
        catalogs; the next one in French makes no hop and is French."""
        headers = {"accept-language": "fr"}
        await hops("/public", 200, headers)
        self.assertEqual(await hops("/public", 200, headers), [])
        response = await AsyncClient().get("/public", headers=headers)
        self.assertEqual(response.headers["Content-Language"], "fr")

    async def test_a_new_language_hops_once(self):
        """A language no request has asked for yet: one hop, process_request."""
        headers = {"accept-language": "nl"}
        self.assertEqual(await hops("/public", 200, headers), ["process_request"])

    async def test_a_small_page_is_compressed_on_the_loop(self):
        """GZip and ConditionalGet: a 7 KB page is hashed and compressed with
        no hop; a 448 KB page hops twice, to hash and compress in a thread."""
        headers = {"accept-encoding": "gzip", "accept-language": "en"}
        await hops("/public", 200, headers)
        self.assertEqual(await hops("/public?n=1000", 200, headers), [])
        response = await AsyncClient().get("/public?n=1000", headers=headers)
        self.assertEqual(response.headers["Content-Encoding"], "gzip")
        self.assertEqual(
            await hops("/public?n=64000", 200, headers), ["process_response"] * 2
        )

    async def test_a_conditional_get_is_answered_on_the_loop(self):
        """ConditionalGet: an ETag, and a 304 for it, with no hop."""
        headers = {"accept-language": "en"}
        await hops("/public", 200, headers)
        etag = (await AsyncClient().get("/public", headers=headers)).headers["ETag"]
        response = await AsyncClient().get(
            "/public", headers={**headers, "if-none-match": etag}
        )
        self.assertEqual(response.status_code, 304)
        self.assertEqual(await hops("/public", 200, headers), [])

    async def test_a_login_not_required_view_makes_no_hop(self):
        """LoginRequired: a view marked login_not_required passes on the
        loop; any other loads the user in a thread, and an anonymous visitor
        is sent to log in."""
        headers = {"accept-language": "en"}
        await hops("/public", 200, headers)
        self.assertEqual(await hops("/public", 200, headers), [])
        self.assertEqual(await hops("/private", 302, headers), ["process_view"])

    async def test_only_a_404_that_django_would_mail_about_hops(self):
        """BrokenLinkEmails: with DEBUG off a 404 linked from this site hops
        (it may send mail); with DEBUG on, or an ignorable URL, it does not,
        nor does a 200."""
        headers = {"accept-language": "en", "referer": "http://testserver/public"}
        await hops("/public", 200, headers)
        with self.settings(DEBUG=True):
            self.assertEqual(await hops("/missing", 404, headers), [])
        with self.settings(DEBUG=False, IGNORABLE_404_URLS=[re.compile(r"^/ignored")]):
            self.assertEqual(await hops("/missing", 404, headers), ["process_response"])
            self.assertEqual(await hops("/ignored", 404, headers), [])
            self.assertEqual(await hops("/public", 200, headers), [])

    async def test_a_large_page_nobody_compresses_makes_no_hop(self):
        """A 448 KB page for a client that takes no gzip: GZip leaves it
        alone, so only ConditionalGet's hash hops."""
        headers = {"accept-language": "en"}
        await hops("/public", 200, headers)
        self.assertEqual(
            await hops("/public?n=64000", 200, headers), ["process_response"]
        )

    @override_settings(SESSION_SAVE_EVERY_REQUEST=True)
    async def test_saving_every_session_hops_only_to_save(self):
        """SESSION_SAVE_EVERY_REQUEST: the save hops, after the view; the
        request waits on the loop before it."""
        headers = {"accept-language": "en"}
        await hops("/public", 200, headers)
        self.assertEqual(await hops("/public", 200, headers), ["process_response"])

    @override_settings(MIDDLEWARE=STOCK)
    async def test_djangos_classes_hop_for_every_hook(self):
        """The control: Django's own twelve classes hop for every hook, 19 in
        all for one page."""
        headers = {"accept-language": "en"}
        self.assertEqual(len(await hops("/public", 200, headers)), 19)

    def test_every_django_middleware_is_accounted_for(self):
        """Each class Django ships has a lean subclass, is async already, or
        is in the README's table of those that hop, with its reason."""
        subclassed = {
            parent(name)
            for name in [*dir(middleware), *middleware.AUTH]
            if name.endswith("Middleware")
        }
        readme = (PACKAGE_DIR / "README.md").read_text()
        listed = set(re.findall(r"^\| `(django\.[\w.]+)` \| \w", readme, re.M))
        self.assertEqual(set(django_middleware()) - subclassed, listed)
