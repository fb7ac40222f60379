"""The site's middleware stack (leanasgi's subclasses and mysite/middleware.py):
no thread hop on the API path, Django's security behaviour everywhere."""

import threading
from unittest import mock

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.contrib.auth.models import User
from django.test import AsyncClient, SimpleTestCase, TestCase, override_settings
from django.utils.module_loading import import_string
from leanasgi.checks import thread_costs


async def middleware_hops(client, url):
    """The middleware methods that `client.get(url)` sent through sync_to_async."""
    wrapped = []
    original_init = SyncToAsync.__init__

    def recording_init(self, func, *args, **kwargs):
        wrapped.append(func)
        original_init(self, func, *args, **kwargs)

    with mock.patch.object(SyncToAsync, "__init__", recording_init):
        response = await client.get(url)
    assert response.status_code == 200, response.content
    classes = tuple(import_string(path) for path in settings.MIDDLEWARE)
    return [
        f
        for f in wrapped
        if isinstance(getattr(f, "__self__", None), classes)
        or f.__module__ in ("mysite.middleware", "leanasgi.middleware")
    ]


class ThreadHopTests(SimpleTestCase):
    url = "/api/say-after?delay=0&word=hello"

    async def test_api_request_makes_no_middleware_thread_hop(self):
        """Under the async handler no middleware hook of ours runs in a thread."""
        self.assertEqual(await middleware_hops(AsyncClient(), self.url), [])

    async def test_sync_view_costs_one_hop_to_name_its_thread(self):
        """For a sync view, only ServerTimingMiddleware hops, once, to name the thread."""
        hops = await middleware_hops(AsyncClient(), "/")
        self.assertEqual([f.__name__ for f in hops], ["current_thread_name"])

    @override_settings(MIDDLEWARE=settings.STOCK_MIDDLEWARE)
    async def test_stock_middleware_hops_for_every_hook(self):
        """The control: Django's own classes send each hook through sync_to_async."""
        hops = await middleware_hops(AsyncClient(), self.url)
        # Seven process_request/process_response pairs and CSRF's process_view.
        self.assertGreaterEqual(len(hops), 13)


class ThreadCostCheckTests(SimpleTestCase):
    def test_the_sites_middleware_passes_leanasgis_check(self):
        """manage.py check finds no middleware of this site, and no
        request_started receiver, that costs every request a thread."""
        self.assertEqual(thread_costs(None), [])

    @override_settings(MIDDLEWARE=settings.STOCK_MIDDLEWARE)
    def test_django_as_shipped_is_warned_about(self):
        """The control: with Django's own classes every one that hops is named."""
        self.assertGreaterEqual(
            len([w for w in thread_costs(None) if w.id == "leanasgi.W001"]), 6
        )


class SecurityHeaderTests(SimpleTestCase):
    async def test_api_response_carries_the_security_headers(self):
        """API answers carry the same security headers Django's middleware sets."""
        response = await self.async_client.get("/api/say-after?delay=0&word=hi")
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["Referrer-Policy"], "same-origin")
        self.assertEqual(response["Cross-Origin-Opener-Policy"], "same-origin")

    @override_settings(SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=[r"^healthz$"])
    async def test_https_redirect_applies_to_the_api(self):
        """With HTTPS on, plain-HTTP API requests are redirected; /healthz is not."""
        response = await self.async_client.get("/api/say-after?delay=0&word=hi")
        self.assertEqual(response.status_code, 301)
        self.assertTrue(response["Location"].startswith("https://"))
        response = await self.async_client.get("/healthz")
        self.assertEqual(response.status_code, 200)

    async def test_append_slash_still_redirects(self):
        """CommonMiddleware still adds the missing slash to HTML routes."""
        response = await self.async_client.get("/aggregator/say-after/async")
        self.assertEqual(response.status_code, 301)
        self.assertEqual(response["Location"], "/aggregator/say-after/async/")


class AdminSessionTests(TestCase):
    """Sessions, CSRF and messages work under both handlers (they hop when writing)."""

    @classmethod
    def setUpTestData(cls):
        User.objects.create_superuser("admin", "admin@example.com", "a-long-password-1")

    def login_form(self, csrf_client_response):
        return {
            "username": "admin",
            "password": "a-long-password-1",
            "csrfmiddlewaretoken": csrf_client_response.context["csrf_token"],
            "next": "/admin/",
        }

    async def test_post_without_csrf_token_is_refused(self):
        """A POST with no CSRF token gets 403 under the async handler."""
        client = AsyncClient(enforce_csrf_checks=True)
        response = await client.post(
            "/admin/login/", {"username": "admin", "password": "a-long-password-1"}
        )
        self.assertEqual(response.status_code, 403)

    async def test_login_and_messages_under_the_async_handler(self):
        """Log in with a CSRF token, add a group, and see the admin's message."""
        client = AsyncClient(enforce_csrf_checks=True)
        form = await client.get("/admin/login/")
        response = await client.post("/admin/login/", self.login_form(form))
        self.assertRedirects(response, "/admin/", fetch_redirect_response=False)
        self.assertEqual((await client.get("/admin/")).status_code, 200)

        add = await client.get("/admin/auth/group/add/")
        response = await client.post(
            "/admin/auth/group/add/",
            {"name": "editors", "csrfmiddlewaretoken": add.context["csrf_token"]},
            follow=True,
        )
        self.assertContains(response, "was added successfully")

    def test_login_and_messages_under_the_wsgi_handler(self):
        """The same classes behave as Django's under WSGI: log in, add a group,
        see the admin's message."""
        self.client = self.client_class(enforce_csrf_checks=True)
        form = self.client.get("/admin/login/")
        response = self.client.post("/admin/login/", self.login_form(form))
        self.assertRedirects(response, "/admin/", fetch_redirect_response=False)
        self.assertEqual(self.client.get("/admin/").status_code, 200)
        add = self.client.get("/admin/auth/group/add/")
        response = self.client.post(
            "/admin/auth/group/add/",
            {"name": "editors", "csrfmiddlewaretoken": add.context["csrf_token"]},
            follow=True,
        )
        self.assertContains(response, "was added successfully")

    def test_post_without_csrf_token_is_refused_under_wsgi(self):
        """A POST with no CSRF token gets 403 under the WSGI handler too."""
        client = self.client_class(enforce_csrf_checks=True)
        response = client.post(
            "/admin/login/", {"username": "admin", "password": "a-long-password-1"}
        )
        self.assertEqual(response.status_code, 403)


class ServerTimingTests(SimpleTestCase):
    async def test_async_view_runs_on_the_event_loop_thread(self):
        """An async view reports handler async, on the thread running the loop."""
        response = await self.async_client.get("/api/say-after?delay=0&word=hi")
        self.assertEqual(response["X-View-Handler"], "async")
        self.assertEqual(response["X-View-Thread"], threading.current_thread().name)
        self.assertRegex(
            response["Server-Timing"], r'^view;dur=\d+\.\d;desc="async view"$'
        )

    async def test_sync_view_runs_on_another_thread_under_asgi(self):
        """Under the async handler a sync view reports a thread other than the loop's."""
        response = await self.async_client.get("/api/say-sync?delay=0&word=hi")
        self.assertEqual(response["X-View-Handler"], "sync")
        self.assertNotEqual(response["X-View-Thread"], threading.current_thread().name)

    def test_sync_view_under_wsgi(self):
        """Under the sync handler a sync view runs on the request's own thread."""
        response = self.client.get("/api/say-sync?delay=0&word=hi")
        self.assertEqual(response["X-View-Handler"], "sync")
        self.assertEqual(response["X-View-Thread"], threading.current_thread().name)

    async def test_duration_covers_the_view(self):
        """Server-Timing's duration is the view's own wait, give or take 200 ms."""
        response = await self.async_client.get("/api/say-after?delay=1&word=hi")
        milliseconds = float(response["Server-Timing"].split("dur=")[1].split(";")[0])
        self.assertTrue(1000 <= milliseconds < 1200, milliseconds)
