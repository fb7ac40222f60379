"""The index page, the API documentation and the health check."""

import re

import httpx2
import pytest
from django.test import SimpleTestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from harness.servers import serve


class IndexTests(SimpleTestCase):
    def test_lists_every_demo_with_a_command(self):
        """The index links each demo and shows a command to try it on this host."""
        response = self.client.get(reverse("index"))
        self.assertEqual(response.status_code, 200)
        for name in [
            "api:say_after",
            "api:say_sync",
            "api:say_async",
            "aggregator:say_after_sync",
            "aggregator:say_after_async",
            "api:openapi-view",
            "aggregator:naive",
            "aggregator:bounded",
            "aggregator:fail_fast",
            "aggregator:sync_loop",
            "aggregator:requests_loop",
            "aggregator:threads",
            "aggregator:stream",
            "aggregator:upstream_sync",
            "aggregator:upstream_async",
            "aggregator:pitfall_blocking_sleep",
            "aggregator:pitfall_self_call",
            "aggregator:stream_sync",
            "aggregator:stream_async",
            "blog:post_list_async",
            "blog:post_list_sync",
            "blog:post_search",
            "blog:pitfall_gathered_queries",
            "blog:pitfall_one_query",
            "blog:pitfall_queries_apart",
            "blog:drafts",
            "blog:pitfall_request_user",
            "blog:whoami",
        ]:
            with self.subTest(name):
                self.assertContains(response, f'href="{reverse(name)}')
        events = reverse("blog:post_events", args=[4])
        self.assertContains(response, f'curl -N "http://testserver{events}"')
        self.assertContains(
            response,
            'ab -c 100 -n 100 "http://testserver/api/say-after?delay=3&amp;word=hello"',
        )


class ApiDocsTests(SimpleTestCase):
    def test_swagger_ui_uses_local_assets(self):
        """/api/docs loads Swagger UI from this server's static files, not a CDN."""
        response = self.client.get("/api/docs")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "/static/ninja/swagger-ui-bundle.js")
        self.assertNotContains(response, "cdn.")

    def test_openapi_schema_lists_the_seed_operations(self):
        """/api/openapi.json describes say-after, say-sync and say-async."""
        schema = self.client.get("/api/openapi.json").json()
        self.assertEqual(
            {"/api/say-after", "/api/say-sync", "/api/say-async"},
            {path for path in schema["paths"] if path.startswith("/api/say")},
        )
        parameters = schema["paths"]["/api/say-after"]["get"]["parameters"]
        delay = next(p for p in parameters if p["name"] == "delay")
        self.assertEqual(
            (delay["schema"]["minimum"], delay["schema"]["maximum"]), (0, 30)
        )


class HealthTests(SimpleTestCase):
    async def test_healthz(self):
        """/healthz answers {"status": "ok"}."""
        response = await self.async_client.get("/healthz")
        self.assertEqual(response.json(), {"status": "ok"})


@pytest.mark.slow
def test_every_link_on_the_index_answers_on_a_real_server():
    """Every link on the index answers 200 under uvicorn (delays cut to 0),
    after its redirects (the drafts page sends a visitor to log in)."""
    with serve("uvicorn") as url:
        page = httpx2.get(url + "/").text
        links = re.findall(r'href="([^"]+)"', page)
        assert len(links) >= 24
        for link in links:
            link = re.sub(r"delay=\d+", "delay=0", link.replace("&amp;", "&"))
            answer = httpx2.get(url + link, timeout=10, follow_redirects=True)
            assert answer.status_code == 200, link


def routes(resolver, prefix=""):
    """Every URL pattern of the site, as the route strings Django joins."""
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


class UrlStyleTests(SimpleTestCase):
    def test_every_page_and_view_ends_with_a_slash(self):
        """One style: every route ends with a slash (Django's APPEND_SLASH
        convention), except the django-ninja API under /api/, which keeps
        the guide's paths, the health check and Django's admin."""
        others = [
            route
            for route in routes(get_resolver())
            if not route.startswith(("api/", "healthz", "admin/"))
            and route not in ("", "favicon.ico")
        ]
        self.assertGreaterEqual(len(others), 25)
        self.assertEqual([r for r in others if not r.endswith("/")], [])

    def test_the_old_addresses_redirect_to_the_new(self):
        """The streams and the lab's endpoints that gained a slash still
        answer at their old address, with a permanent redirect that keeps
        the query string."""
        for old, new in [
            ("/blog/1/events", "/blog/1/events/"),
            ("/blog/live", "/blog/live/"),
            (
                "/lab/run?experiment=orm&n=1&delay=0",
                "/lab/run/?experiment=orm&n=1&delay=0",
            ),
            ("/lab/meter", "/lab/meter/"),
        ]:
            with self.subTest(old):
                self.assertRedirects(
                    self.client.get(old),
                    new,
                    status_code=301,
                    fetch_redirect_response=False,
                )
