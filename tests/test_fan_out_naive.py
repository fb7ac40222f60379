"""The 2020 posts' fan-out (aggregator/naive.py) beside the project's async one:
the same answer while every call answers, and each thing the naive one
leaves out: a bound, a deadline, one shared client."""

import asyncio
import time
from unittest import mock

from django.test import SimpleTestCase, override_settings
from django.urls import reverse

import leanasgi
from aggregator import bounded, naive
from harness.upstreams import FakeUpstream


class NaiveFanOutTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.upstream = cls.enterClassContext(FakeUpstream())

    def fan_out(self, way, path, query, **settings):
        """GET /aggregator/<way>/ calling the fake's `path`: the response
        and the seconds it took."""
        url = self.upstream.url + path
        with override_settings(AGGREGATOR_UPSTREAM_URL=url, **settings):
            started = time.monotonic()
            response = self.client.get(reverse(f"aggregator:{way}") + query)
            return response, time.monotonic() - started

    def test_while_every_call_answers_both_give_the_same_answers(self):
        """Five calls that answer: both ways answer 200 with the same
        five values, in task order."""
        answers = {}
        for way in ("naive", "bounded"):
            response, _ = self.fan_out(way, "/json", "?n=5&delay=0")
            self.assertEqual(response.status_code, 200)
            answers[way] = [r["value"] for r in response.json()["results"]]
        self.assertEqual(answers["naive"], answers["bounded"])
        self.assertEqual(
            [value["task_id"] for value in answers["naive"]], [0, 1, 2, 3, 4]
        )

    def test_one_failed_call_loses_every_answer(self):
        """Two of five calls fail (HTTP 500): gather raises, so the naive view
        can only answer 502 with none of the three answers it had; the async
        fan-out answers 200 with all five, two of them errors."""
        naive_answer, _ = self.fan_out("naive", "/flaky", "?n=5&delay=0")
        self.assertEqual(naive_answer.status_code, 502)
        self.assertNotIn("results", naive_answer.json())
        self.assertIn("its error was raised", naive_answer.json()["error"])
        bounded, _ = self.fan_out("bounded", "/flaky", "?n=5&delay=0")
        self.assertEqual(bounded.status_code, 200)
        self.assertEqual(len(bounded.json()["results"]), 5)
        self.assertEqual(bounded.json()["errors"], 2)

    def test_a_hanging_call_holds_the_answer_for_its_read_timeout(self):
        """Calls that never answer, a 2 s read timeout and a 0.5 s deadline:
        the bounded fan-out answers 504 at its deadline; the naive one, which
        has none, waits out the read timeout."""
        timeouts = {"AGGREGATOR_READ_TIMEOUT": 2, "AGGREGATOR_DEADLINE": 0.5}
        bounded, bounded_took = self.fan_out(
            "bounded", "/hang", "?n=3&delay=0", **timeouts
        )
        self.assertEqual(bounded.status_code, 504)
        self.assertTrue(0.5 <= bounded_took < 1.2, bounded_took)
        naive_answer, naive_took = self.fan_out(
            "naive", "/hang", "?n=3&delay=0", **timeouts
        )
        self.assertEqual(naive_answer.status_code, 502)
        self.assertIn("ReadTimeout", naive_answer.json()["error"])
        self.assertTrue(2 <= naive_took < 3, naive_took)

    async def test_concurrent_requests_send_every_call_past_the_bound(self):
        """Four requests of ten 0.3 s calls at once, with a bound of 5: the
        naive fan-outs have all 40 calls in flight together; the async ones,
        sharing one client on the server's loop, never more than 5."""
        leanasgi.mark_serving_loop()  # as the ASGI application does per request
        url = self.upstream.url + "/json"
        query = "?n=10&delay=0.3"
        most = {}
        with override_settings(AGGREGATOR_UPSTREAM_URL=url, AGGREGATOR_MAX_IN_FLIGHT=5):
            for way in ("naive", "bounded"):
                self.upstream.most_in_flight = 0
                path = reverse(f"aggregator:{way}") + query
                responses = await asyncio.gather(
                    *(self.async_client.get(path) for _ in range(4))
                )
                self.assertEqual({r.status_code for r in responses}, {200})
                most[way] = self.upstream.most_in_flight
            await bounded.close_clients()
        self.assertEqual(most, {"naive": 40, "bounded": 5})

    async def test_each_naive_request_builds_a_client_of_its_own(self):
        """Three naive fan-outs build three clients, each with its connections
        and its TLS context; three async ones on the server's loop build one."""
        leanasgi.mark_serving_loop()
        real = naive.httpx2.AsyncClient
        built = []

        def counting(*args, **kwargs):
            built.append(real(*args, **kwargs))
            return built[-1]

        url = self.upstream.url + "/json"
        counts = {}
        with (
            override_settings(AGGREGATOR_UPSTREAM_URL=url),
            mock.patch.object(naive.httpx2, "AsyncClient", counting),
        ):
            for way in ("naive", "bounded"):
                built.clear()
                path = reverse(f"aggregator:{way}") + "?n=2&delay=0"
                for _ in range(3):
                    self.assertEqual(
                        (await self.async_client.get(path)).status_code, 200
                    )
                counts[way] = len(built)
            await bounded.close_clients()
        self.assertEqual(counts, {"naive": 3, "bounded": 1})
