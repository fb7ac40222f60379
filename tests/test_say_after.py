"""The say-after contract: django-ninja operations and their plain-Django twins."""

import time

from django.conf import settings
from django.test import SimpleTestCase
from django.urls import reverse

NINJA_ROUTES = ["api:say_after", "api:say_sync", "api:say_async"]
PLAIN_ROUTES = ["aggregator:say_after_sync", "aggregator:say_after_async"]

BAD_QUERIES = {
    "missing delay": ({"word": "hello"}, "delay"),
    "missing word": ({"delay": "0"}, "word"),
    "negative delay": ({"delay": "-1", "word": "hello"}, "delay"),
    "delay above the maximum": ({"delay": "31", "word": "hello"}, "delay"),
    "huge delay": ({"delay": "9" * 40, "word": "hello"}, "delay"),
    "delay not a number": ({"delay": "soon", "word": "hello"}, "delay"),
    "fractional delay": ({"delay": "0.5", "word": "hello"}, "delay"),
    "empty word": ({"delay": "0", "word": ""}, "word"),
    "word too long": ({"delay": "0", "word": "x" * 201}, "word"),
    "NUL in the word": ({"delay": "0", "word": "a\x00b"}, "word"),
}


class NinjaSayAfterTests(SimpleTestCase):
    async def test_answers_the_word(self):
        """Each ninja operation answers {"saying": word} with status 200."""
        for name in NINJA_ROUTES:
            with self.subTest(name):
                response = await self.async_client.get(
                    reverse(name), {"delay": 0, "word": "hello"}
                )
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.json(), {"saying": "hello"})

    async def test_seed_url_waits_the_delay(self):
        """The seed's URL waits `delay` seconds before answering."""
        started = time.monotonic()
        response = await self.async_client.get("/api/say-after?delay=1&word=hello")
        self.assertTrue(1 <= time.monotonic() - started < 1.5)
        self.assertEqual(response.json(), {"saying": "hello"})

    async def test_longest_word_is_allowed(self):
        """A word of exactly the maximum length is accepted and echoed."""
        word = "w" * settings.SAY_AFTER_MAX_WORD_LENGTH
        response = await self.async_client.get(
            reverse("api:say_after"), {"delay": 0, "word": word}
        )
        self.assertEqual(response.json(), {"saying": word})

    async def test_bad_input_is_a_422_naming_the_field(self):
        """Bad input gets 422 JSON whose error names the offending field, at once."""
        for name in NINJA_ROUTES:
            for case, (query, field) in BAD_QUERIES.items():
                with self.subTest(name=name, case=case):
                    started = time.monotonic()
                    response = await self.async_client.get(reverse(name), query)
                    self.assertLess(time.monotonic() - started, 0.5)
                    self.assertEqual(response.status_code, 422)
                    locations = [error["loc"] for error in response.json()["detail"]]
                    self.assertIn(["query", field], locations)


class PlainSayAfterTests(SimpleTestCase):
    async def test_answers_the_word(self):
        """Both plain views answer {"saying": word} with status 200."""
        for name in PLAIN_ROUTES:
            with self.subTest(name):
                response = await self.async_client.get(
                    reverse(name), {"delay": 0, "word": "hello"}
                )
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.json(), {"saying": "hello"})

    async def test_async_view_waits_the_delay(self):
        """say_after_async waits `delay` seconds before answering."""
        started = time.monotonic()
        response = await self.async_client.get(
            reverse("aggregator:say_after_async"), {"delay": 1, "word": "hi"}
        )
        self.assertTrue(1 <= time.monotonic() - started < 1.5)
        self.assertEqual(response.json(), {"saying": "hi"})

    def test_sync_view_waits_the_delay(self):
        """say_after_sync waits `delay` seconds before answering."""
        started = time.monotonic()
        response = self.client.get(
            reverse("aggregator:say_after_sync"), {"delay": 1, "word": "hi"}
        )
        self.assertTrue(1 <= time.monotonic() - started < 1.5)
        self.assertEqual(response.json(), {"saying": "hi"})

    async def test_bad_input_is_a_400_saying_what_is_allowed(self):
        """Bad input gets 400 JSON with the field's error and its allowed values."""
        for name in PLAIN_ROUTES:
            for case, (query, field) in BAD_QUERIES.items():
                with self.subTest(name=name, case=case):
                    started = time.monotonic()
                    response = await self.async_client.get(reverse(name), query)
                    self.assertLess(time.monotonic() - started, 0.5)
                    self.assertEqual(response.status_code, 400)
                    body = response.json()
                    self.assertEqual(body["error"], "invalid query parameters")
                    self.assertTrue(body["fields"][field]["errors"])
                    self.assertIn(" to ", body["fields"][field]["allowed"])


class SameContractTests(SimpleTestCase):
    async def test_both_keep_the_word_as_sent(self):
        """The plain pair and the ninja operation answer the same word for the
        same query, spaces included; a NUL is refused by both."""
        paths = [
            reverse("aggregator:say_after_async"),
            reverse("aggregator:say_after_sync"),
            "/api/say-after",
        ]
        for word in ["hi", "  hi  ", "   "]:
            for path in paths:
                with self.subTest(path=path, word=word):
                    response = await self.async_client.get(
                        path, {"delay": 0, "word": word}
                    )
                    self.assertEqual(response.status_code, 200)
                    self.assertEqual(response.json(), {"saying": word})
        for path in paths:
            with self.subTest(path=path, word="NUL"):
                response = await self.async_client.get(
                    path, {"delay": 0, "word": "a\x00b"}
                )
                self.assertIn(response.status_code, (400, 422))
