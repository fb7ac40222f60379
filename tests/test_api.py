"""Errors under /api/ are JSON, whatever produced them."""

from django.test import SimpleTestCase, TestCase, override_settings


class ApiErrorTests(SimpleTestCase):
    async def test_unknown_paths_get_a_json_404(self):
        """An unknown path or a trailing slash under /api/ is a JSON 404 naming
        the path and where the valid ones are listed, in DEBUG too."""
        for debug in (False, True):
            for path in ("/api/nope", "/api/say-after/"):
                with (
                    self.subTest(debug=debug, path=path),
                    override_settings(DEBUG=debug),
                ):
                    response = await self.async_client.get(path)
                    self.assertEqual(response.status_code, 404)
                    body = response.json()
                    self.assertIn(path, body["detail"])
                    self.assertIn("/api/docs", body["allowed"])

    async def test_wrong_method_gets_a_json_405_listing_the_allowed(self):
        """POST on a GET-only operation is a JSON 405 listing GET, with Allow."""
        response = await self.async_client.post("/api/say-after?delay=0&word=hi")
        self.assertEqual(response.status_code, 405)
        self.assertEqual(response.json()["allowed"], ["GET"])
        self.assertEqual(response["Allow"], "GET")

    def test_pages_outside_the_api_keep_their_html_404(self):
        """A 404 elsewhere is Django's own page, not JSON."""
        response = self.client.get("/no-such-page")
        self.assertEqual(response.status_code, 404)
        self.assertFalse(response["Content-Type"].startswith("application/json"))


class ApiOperationErrorTests(TestCase):
    async def test_an_operations_own_json_404_is_kept(self):
        """A missing blog post's 404 stays the operation's own JSON."""
        response = await self.async_client.get("/api/blog/999999999")
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("allowed", response.json())
