"""The index page, the API documentation and the health check."""

import re

import httpx2
from django.test import SimpleTestCase
from django.urls import reverse

from bench.servers import serve


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
            "aggregator:fan_out_async",
            "aggregator:fan_out_sync",
            "aggregator:fan_out_requests",
            "aggregator:fan_out_threads",
            "aggregator:fan_out_stream",
            "aggregator:upstream_sync",
            "aggregator:upstream_async",
            "aggregator:pitfall_blocking_sleep",
            "aggregator:pitfall_self_call",
            "blog:post_list_async",
            "blog:post_list_sync",
            "blog:post_search",
        ]:
            with self.subTest(name):
                self.assertContains(response, f'href="{reverse(name)}')
        events = reverse("blog:post_events", args=[4])
        self.assertContains(response, f'curl -N "http://testserver{events}"')
        self.assertContains(
            response,
            'ab -c 100 -n 100 "http://testserver/api/say-after?delay=3&amp;word=hello"',
        )

    def test_every_link_answers_on_a_real_server(self):
        """Every link on the index answers 200 under uvicorn (delays cut to 0)."""
        with serve("uvicorn") as url:
            page = httpx2.get(url + "/").text
            links = re.findall(r'href="([^"]+)"', page)
            self.assertGreaterEqual(len(links), 24)
            for link in links:
                with self.subTest(link):
                    link = re.sub(r"delay=\d+", "delay=0", link.replace("&amp;", "&"))
                    self.assertEqual(
                        httpx2.get(url + link, timeout=10).status_code, 200
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
