"""The middleware subclasses: no thread hop where Django's code does no I/O,
Django's hop wherever it might, in any configuration."""

import asyncio
from unittest import mock

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.http import HttpResponse
from django.test import AsyncClient, TestCase, override_settings
from django.urls import path

from leanasgi import middleware


async def hello(request):
    return HttpResponse("hello")


async def session_write(request):
    await request.session.aset("seen", True)
    return HttpResponse("saved")


urlpatterns = [path("hello", hello), path("session-write", session_write)]

STOCK = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


async def hops(url, status=200, headers=None):
    """The middleware hooks that `GET url` sent through sync_to_async."""
    wrapped = []
    original = SyncToAsync.__init__

    def recording(self, func, *args, **kwargs):
        if getattr(func, "__self__", None).__class__.__module__.startswith(
            ("leanasgi.", "django.middleware.", "django.contrib.")
        ):
            wrapped.append(func.__name__)
        original(self, func, *args, **kwargs)

    with mock.patch.object(SyncToAsync, "__init__", recording):
        response = await AsyncClient().get(url, headers=headers)
    assert response.status_code == status, response.content
    return wrapped


async def max_loop_lag(coroutine):
    """Run `coroutine`; how late, at worst, a 5 ms timer fired meanwhile (s)."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker():
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            worst = max(worst, loop.time() - before - 0.005)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    try:
        return await coroutine, worst
    finally:
        done.set()
        await tick


@override_settings(ROOT_URLCONF=__name__)
class ThreadHopTests(TestCase):
    async def test_a_plain_request_makes_no_hop(self):
        """Through the seven subclasses a request that touches no session
        makes no thread hop at all."""
        self.assertEqual(await hops("/hello"), [])

    @override_settings(MIDDLEWARE=STOCK)
    async def test_djangos_classes_hop_for_every_hook(self):
        """The control: Django's own classes hop once per hook: six
        process_request, six process_response, CSRF's process_view."""
        self.assertEqual(len(await hops("/hello")), 13)

    async def test_a_session_write_hops_once_to_save(self):
        """A view that writes the session: one hop, to save it."""
        self.assertEqual(await hops("/session-write"), ["process_response"])

    @override_settings(CSRF_USE_SESSIONS=True)
    async def test_csrf_in_the_session_hops_for_every_hook(self):
        """With CSRF_USE_SESSIONS every CSRF hook hops, as Django's does."""
        self.assertEqual(
            sorted(await hops("/hello")),
            ["process_request", "process_response", "process_view"],
        )

    @override_settings(SESSION_ENGINE="tests.slow_sessions")
    async def test_a_custom_session_engine_runs_in_a_thread(self):
        """A custom engine whose store queries the database when built: no
        SynchronousOnlyOperation, and the loop is never late by 20 ms."""
        response, lag = await max_loop_lag(AsyncClient().get("/hello"))
        self.assertEqual(response.status_code, 200)
        self.assertLess(lag, 0.020)

    @override_settings(SESSION_ENGINE="tests.slow_sessions")
    async def test_the_same_engine_on_the_loop_would_block_it(self):
        """The control: building that store on the loop raises, so the
        fallback above is what keeps it off."""
        from django.core.exceptions import SynchronousOnlyOperation

        from .slow_sessions import SessionStore

        with self.assertRaises(SynchronousOnlyOperation):
            SessionStore()

    @override_settings(MESSAGE_STORAGE="tests.test_middleware.Storage")
    async def test_a_custom_message_storage_runs_in_a_thread(self):
        """A custom MESSAGE_STORAGE: both of its hooks hop."""
        self.assertEqual(
            sorted(await hops("/hello")), ["process_request", "process_response"]
        )

    def test_under_wsgi_they_are_djangos_classes(self):
        """Under the sync handler the subclasses answer as Django's do."""
        with override_settings(MIDDLEWARE=settings.MIDDLEWARE):
            self.assertEqual(self.client.get("/session-write").content, b"saved")
        self.assertIn(settings.SESSION_COOKIE_NAME, self.client.cookies)

    def test_known_engines_and_storages_are_djangos(self):
        """The loop-safe lists name only what Django ships."""
        for name in [*middleware.LOOP_SAFE_SESSION_ENGINES]:
            __import__(name)
        for name in middleware.LOOP_SAFE_MESSAGE_STORAGES:
            module, _, cls = name.rpartition(".")
            self.assertTrue(hasattr(__import__(module, fromlist=[cls]), cls))


from django.contrib.messages.storage.cookie import CookieStorage  # noqa: E402


class Storage(CookieStorage):
    """A custom storage: leanasgi cannot know it does no I/O."""
