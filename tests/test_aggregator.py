"""The fan-out views in process: the contract, failures, deadlines, cancellation."""

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory, SimpleTestCase, override_settings
from django.urls import reverse

import leanasgi
from aggregator import addresses, bounded, requests_loop, sync_loop, threads
from aggregator.addresses import Target, this_server
from harness.servers import serve
from harness.upstreams import FakeUpstream, closed_port_url
from mysite import asgi

FOUR_WAYS = ["bounded", "sync_loop", "requests_loop", "threads"]
FAST_TIMEOUTS = {
    "AGGREGATOR_CONNECT_TIMEOUT": 0.5,
    "AGGREGATOR_READ_TIMEOUT": 0.5,
    "AGGREGATOR_DEADLINE": 1.5,
}


class FakeUpstreamTestCase(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.upstream = cls.enterClassContext(FakeUpstream())

    def fan_out(self, way, path, query=""):
        """GET a fan-out way whose upstream is the fake's `path` (or a whole
        URL); the response and the seconds it took."""
        url = path if path.startswith("http") else self.upstream.url + path
        with override_settings(AGGREGATOR_UPSTREAM_URL=url, **FAST_TIMEOUTS):
            started = time.monotonic()
            response = self.client.get(reverse(f"aggregator:{way}") + query)
            return response, time.monotonic() - started


class FanOutContractTests(FakeUpstreamTestCase):
    def test_every_way_answers_results_in_task_order(self):
        """Each way answers way, n, delay, elapsed, errors and ordered results."""
        for way in FOUR_WAYS:
            with self.subTest(way):
                response, _ = self.fan_out(way, "/json", "?n=4&delay=0.1")
                self.assertEqual(response.status_code, 200)
                body = response.json()
                self.assertEqual(body["way"], way.replace("_", "-"))
                self.assertEqual(
                    (body["n"], body["delay"], body["errors"]), (4, 0.1, 0)
                )
                self.assertIsInstance(body["elapsed"], float)
                self.assertEqual(
                    body["results"],
                    [
                        {"task_id": i, "value": {"task_id": i, "delay": 0.1}}
                        for i in range(4)
                    ],
                )

    def test_defaults_are_ten_calls_of_one_second(self):
        """With no query, a fan-out makes 10 calls of 1 s."""
        response, _ = self.fan_out("bounded", "/json")
        body = response.json()
        self.assertEqual((body["n"], body["delay"]), (10, 1.0))
        self.assertEqual(len(body["results"]), 10)

    async def test_stream_sends_each_result_then_a_summary(self):
        """The stream is NDJSON: one line per task as it completes, then a summary."""
        url = reverse("aggregator:stream") + "?n=3&delay=0"
        with override_settings(AGGREGATOR_UPSTREAM_URL=self.upstream.url + "/json"):
            response = await self.async_client.get(url)
            body = b"".join([chunk async for chunk in response.streaming_content])
        lines = [json.loads(line) for line in body.splitlines()]
        self.assertEqual(response["Content-Type"], "application/x-ndjson")
        self.assertEqual(sorted(line["task_id"] for line in lines[:3]), [0, 1, 2])
        summary = lines[3]["summary"]
        self.assertEqual(
            (summary["way"], summary["n"], summary["errors"]), ("stream", 3, 0)
        )


class FanOutFailureTests(FakeUpstreamTestCase):
    def assert_all_failed(self, path, status, message, within):
        for way in FOUR_WAYS:
            with self.subTest(way=way, path=path):
                response, elapsed = self.fan_out(way, path, "?n=3&delay=0")
                self.assertEqual(response.status_code, status)
                body = response.json()
                self.assertEqual(body["errors"], 3)
                for entry in body["results"]:
                    self.assertIn(message, entry["error"])
                self.assertLess(elapsed, within)

    def test_closed_port(self):
        """A refused connection is an error entry; with all failed the answer is 502."""
        self.assert_all_failed(closed_port_url(), 502, "unreachable", within=1)

    def test_server_error(self):
        """An upstream 5xx is an error entry naming the status; all failed -> 502."""
        self.assert_all_failed("/fail", 502, "HTTP 500", within=1)

    def test_not_json(self):
        """An upstream answering text is an error entry; all failed -> 502."""
        self.assert_all_failed("/text", 502, "not JSON", within=1)

    def test_hanging_upstream_hits_the_deadline(self):
        """A listener that never answers: 504 within the deadline, in every way."""
        self.assert_all_failed("/hang", 504, "timeout", within=2.5)

    def test_a_slowly_sending_upstream_is_cut_off_at_the_deadline(self):
        """An upstream that sends its answer one byte every 0.1 s never trips a
        read timeout, yet every way, the sync loops too, answers 504 by the
        deadline (1.5 s here) plus one byte's wait."""
        self.assert_all_failed("/trickle", 504, "not done within", within=1.5 + 0.4)

    def test_some_failures_still_answer_200(self):
        """When some calls succeed the answer is 200 with the failures counted."""
        for way in FOUR_WAYS:
            with self.subTest(way):
                response, _ = self.fan_out(way, "/flaky", "?n=4&delay=0")
                self.assertEqual(response.status_code, 200)
                body = response.json()
                self.assertEqual(body["errors"], 2)
                self.assertEqual(
                    [("error" in e) for e in body["results"]], [False, True] * 2
                )

    def test_async_time_is_one_timeout_not_n(self):
        """Ten hanging calls cost the async way one read timeout, not ten."""
        with override_settings(AGGREGATOR_DEADLINE=10):
            response, elapsed = self.fan_out("bounded", "/hang", "?n=10&delay=0")
        self.assertEqual(response.status_code, 504)
        self.assertLess(elapsed, 1.5)

    def test_deadline_bounds_the_sync_loop(self):
        """Ten hanging calls in the sync loop stop at the deadline, not 10 x timeout."""
        response, elapsed = self.fan_out("sync_loop", "/hang", "?n=10&delay=0")
        self.assertEqual(response.status_code, 504)
        self.assertLess(elapsed, 2.5)
        self.assertIn("not done within", response.json()["results"][-1]["error"])

    def test_bad_query_is_a_400_at_once(self):
        """Negative, too big or non-numeric n and delay get a 400 naming the field."""
        bad = {
            "n=0": "n",
            "n=101": "n",
            "n=ten": "n",
            "n=-1": "n",
            "delay=-1": "delay",
            "delay=11": "delay",
            "delay=soon": "delay",
            "delay=nan": "delay",
        }
        names = [*FOUR_WAYS, "stream", "naive", "fail_fast", "pitfall_self_call"]
        for name in names:
            for query, field in bad.items():
                with self.subTest(name=name, query=query):
                    started = time.monotonic()
                    response = self.client.get(
                        reverse(f"aggregator:{name}") + "?" + query
                    )
                    self.assertLess(time.monotonic() - started, 0.5)
                    self.assertEqual(response.status_code, 400)
                    self.assertIn(field, response.json()["fields"])


class FailFastTests(FakeUpstreamTestCase):
    def test_every_call_answered_is_a_200_in_task_order(self):
        """Ten calls that answer: 200, each value in task order, no errors."""
        response, _ = self.fan_out("fail_fast", "/json", "?n=10&delay=0")
        body = response.json()
        self.assertEqual((response.status_code, body["errors"]), (200, 0))
        self.assertEqual(
            [r["value"]["task_id"] for r in body["results"]], list(range(10))
        )

    def test_one_failure_is_a_502_even_when_others_answered(self):
        """Half the calls fail: where the async fan-out answers 200 with what
        it has, fail-fast answers 502, every failure and cancellation named."""
        response, _ = self.fan_out("fail_fast", "/flaky", "?n=10&delay=0")
        self.assertEqual(response.status_code, 502)
        errors = [r["error"] for r in response.json()["results"] if "error" in r]
        self.assertIn("upstream answered HTTP 500", errors)

    def test_the_first_call_that_times_out_ends_it_as_a_504(self):
        """Calls that never answer: the first read timeout (0.5 s) fails the
        fan-out at once, the others are cancelled, and, a timeout being the
        cause, the answer is a 504."""
        response, elapsed = self.fan_out("fail_fast", "/hang", "?n=3&delay=0")
        self.assertEqual(response.status_code, 504)
        self.assertTrue(0.5 <= elapsed < 1.2, elapsed)
        self.assertEqual(response.json()["errors"], 3)


class SharedClientTests(FakeUpstreamTestCase):
    async def test_asgi_requests_share_one_client_per_event_loop(self):
        """On a server's event loop two fan-outs reuse one AsyncClient."""
        # What the ASGI application does for every request; the test client skips it.
        leanasgi.mark_serving_loop()
        url = reverse("aggregator:bounded") + "?n=2&delay=0"
        with override_settings(AGGREGATOR_UPSTREAM_URL=self.upstream.url + "/json"):
            first = await self.async_client.get(url)
            client = bounded._shared[asyncio.get_running_loop()].client
            second = await self.async_client.get(url)
        self.assertEqual([first.status_code, second.status_code], [200, 200])
        self.assertIs(bounded._shared[asyncio.get_running_loop()].client, client)
        self.assertFalse(client.is_closed)

    def test_wsgi_requests_get_a_client_each(self):
        """Under WSGI each async view runs in a new event loop; each gets its own
        client, closed after it, so back-to-back requests never hit "Event loop
        is closed" and no client is kept."""
        opened = []
        real = bounded.httpx2.AsyncClient

        def recording(**options):
            opened.append(real(**options))
            return opened[-1]

        with mock.patch.object(bounded.httpx2, "AsyncClient", recording):
            for _ in range(3):
                response, _ = self.fan_out("bounded", "/json", "?n=2&delay=0")
                self.assertEqual(response.json()["errors"], 0)
        self.assertEqual(len(opened), 3)
        self.assertTrue(all(client.is_closed for client in opened))

    async def test_lifespan_shutdown_closes_the_shared_client(self):
        """The ASGI lifespan's shutdown closes this loop's client and forgets it."""
        leanasgi.mark_serving_loop()
        url = reverse("aggregator:bounded") + "?n=1&delay=0"
        with override_settings(AGGREGATOR_UPSTREAM_URL=self.upstream.url + "/json"):
            await self.async_client.get(url)
        client = bounded._shared[asyncio.get_running_loop()].client
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent = []

        async def receive():
            return next(messages)

        async def send(message):
            sent.append(message["type"])

        await asgi.application({"type": "lifespan"}, receive, send)
        self.assertEqual(
            sent, ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        )
        self.assertTrue(client.is_closed)
        self.assertNotIn(asyncio.get_running_loop(), bounded._shared)


class SharedThreadPoolTests(FakeUpstreamTestCase):
    def test_concurrent_first_requests_build_one_pool(self):
        """Twenty threads asking for the pool at once all get the same one."""
        with ThreadPoolExecutor(20) as askers:
            pools = list(askers.map(lambda _: threads.shared_pool(), range(20)))
        self.assertEqual({id(pool) for pool in pools}, {id(threads.shared_pool())})

    def test_a_client_that_went_away_stops_every_sync_fan_out(self):
        """With the hang-up event set, each sync way returns at once, calling nothing."""
        gone = threading.Event()
        gone.set()
        target = Target(self.upstream.url + "/hang")
        for fan_out in (
            sync_loop.one_by_one,
            requests_loop.one_by_one,
            threads.on_the_pool,
        ):
            with self.subTest(fan_out.__module__):
                started = time.monotonic()
                results = fan_out(target, 5, 1, gone=gone)
                self.assertLess(time.monotonic() - started, 0.5)
                self.assertEqual(
                    {result.error for result in results},
                    {"cancelled: the client went away"},
                )

    def test_hang_up_mid_fan_out_withdraws_the_calls_not_started(self):
        """A hang-up 0.3 s into a thread-pool fan-out of 100 one-second calls
        answers within 0.6 s, and the calls still queued never reach the
        upstream: at most one per worker of the pool was made."""
        gone = threading.Event()
        threading.Timer(0.3, gone.set).start()
        target = Target(self.upstream.url + "/json")
        calls_before = self.upstream.calls
        started = time.monotonic()
        results = threads.on_the_pool(target, 100, 1, gone=gone)
        self.assertLess(time.monotonic() - started, 0.6)
        self.assertEqual(
            [result.error for result in results],
            ["cancelled: the client went away"] * 100,
        )
        self.upstream.wait_for(lambda: self.upstream.in_flight == 0, timeout=3)
        made = self.upstream.calls - calls_before
        self.assertTrue(0 < made <= settings.AGGREGATOR_THREADS, made)


class CancellationTests(FakeUpstreamTestCase):
    """A client that disconnects cancels the async view and everything it started."""

    async def run_until_disconnect(self, path, disconnect_when):
        """Call the ASGI app; disconnect once `disconnect_when()` is true. Seconds taken."""
        application = get_asgi_application()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path.split("?")[0],
            "raw_path": path.split("?")[0].encode(),
            "query_string": path.partition("?")[2].encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

        async def receive():
            message = next(messages, None)
            if message:
                return message
            while not disconnect_when():
                await asyncio.sleep(0.02)
            return {"type": "http.disconnect"}

        sent = []

        async def send(message):
            sent.append(message)

        # As Django's test client does: keep the test database's connection
        # out of the request's connection housekeeping.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            started = time.monotonic()
            await asyncio.wait_for(application(scope, receive, send), timeout=10)
            return time.monotonic() - started, sent
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    async def test_disconnect_cancels_the_upstream_calls(self):
        """Disconnecting mid fan-out closes every upstream request at once."""
        fake = self.upstream
        with override_settings(AGGREGATOR_UPSTREAM_URL=fake.url + "/hang"):
            elapsed, sent = await self.run_until_disconnect(
                "/aggregator/bounded/?n=5&delay=0", lambda: fake.hanging == 5
            )
        self.assertLess(elapsed, 3)
        self.assertEqual(sent, [])  # no response: the view was cancelled
        # The fake is shared by the class: wait for what is still open to end.
        ended = await asyncio.to_thread(fake.wait_for, lambda: fake.hanging == 0, 2)
        self.assertTrue(ended, f"{fake.hanging} upstream requests still open")

    async def test_disconnect_cancels_the_stream_and_its_calls(self):
        """Disconnecting mid-stream ends it and closes every upstream request."""
        fake = self.upstream
        with override_settings(AGGREGATOR_UPSTREAM_URL=fake.url + "/hang"):
            elapsed, _ = await self.run_until_disconnect(
                "/aggregator/stream/?n=5&delay=0", lambda: fake.hanging == 5
            )
        self.assertLess(elapsed, 3)
        hung_up = await asyncio.to_thread(fake.wait_for, lambda: fake.hanging == 0, 2)
        self.assertTrue(hung_up, f"{fake.hanging} upstream requests still open")

    async def test_disconnect_cancels_the_async_say_after(self):
        """Disconnecting from a 20 s say-after ends the view at once."""
        started = time.monotonic()
        elapsed, sent = await self.run_until_disconnect(
            "/aggregator/say-after/async/?delay=20&word=hi",
            lambda: time.monotonic() - started > 0.3,
        )
        self.assertLess(elapsed, 2)
        self.assertEqual(sent, [])


class UpstreamAddressTests(SimpleTestCase):
    """The default upstream is this server on loopback, whatever the client sends."""

    def url_for(self, server_name, host="127.0.0.1"):
        request = RequestFactory().get(
            "/", SERVER_NAME=server_name, SERVER_PORT="8123", HTTP_HOST=host
        )
        return this_server(request, "aggregator:upstream_async")

    @override_settings(ALLOWED_HOSTS=["*"])
    def test_host_header_never_chooses_the_address(self):
        """A client's Host header is passed on as a header, never connected to."""
        target = self.url_for("0.0.0.0", host="attacker.example:6379")
        self.assertEqual(target.url, "http://127.0.0.1:8123/aggregator/upstream/async/")
        self.assertEqual(target.headers["Host"], "attacker.example:6379")

    def test_only_loopback_addresses_are_used(self):
        """A loopback listening address is kept; any other becomes 127.0.0.1."""
        for server_name, host in [
            ("127.0.0.2", "127.0.0.2"),
            ("::1", "[::1]"),
            ("10.1.2.3", "127.0.0.1"),
            ("localhost", "127.0.0.1"),
            ("::", "127.0.0.1"),
        ]:
            with self.subTest(server_name):
                url = self.url_for(server_name).url
                self.assertTrue(url.startswith(f"http://{host}:8123/"), url)

    @override_settings(AGGREGATOR_UPSTREAM_URL="http://127.0.0.1:9/elsewhere")
    def test_setting_wins(self):
        """AGGREGATOR_UPSTREAM_URL, when set, is the upstream."""
        request = RequestFactory().get("/")
        self.assertEqual(
            addresses.upstream(request).url, "http://127.0.0.1:9/elsewhere"
        )


@pytest.mark.slow
def test_a_client_kept_across_event_loops_fails():
    """The control for a client each under WSGI: a client whose pooled
    connection was opened in one event loop fails in the next, as it would
    under Django's WSGI handler, which runs each async view in a loop of its
    own."""
    client = bounded.httpx2.AsyncClient()

    async def get(url):
        return await client.get(url + "/?task_id=1")

    with serve("raw-asgi") as url:  # keeps connections alive, as servers do
        assert asyncio.run(get(url)).status_code == 200
        with pytest.raises(RuntimeError, match="Event loop is closed"):
            asyncio.run(get(url))


WAYS = [
    "naive",
    "bounded",
    "fail_fast",
    "stream",
    "sync_loop",
    "requests_loop",
    "threads",
]


class OneNamePerWayTests(SimpleTestCase):
    def test_each_way_has_one_name(self):
        """Each way of fanning out is one name: the URL name, the path (with
        dashes), the module that holds its view, and the `way` it answers."""
        from django.urls import resolve

        for way in WAYS:
            with self.subTest(way):
                path = reverse(f"aggregator:{way}")
                self.assertEqual(path, f"/aggregator/{way.replace('_', '-')}/")
                view = resolve(path).func
                self.assertEqual(view.__module__, f"aggregator.{way}")
                self.assertEqual(view.__name__, "view")

    def test_the_chapter_and_the_readme_count_the_routes(self):
        """The fan-out chapter and the README say how many ways there are,
        and that is how many routes there are."""
        from django.urls import get_resolver

        modules = {
            pattern.callback.__module__
            for pattern in get_resolver("aggregator.urls").url_patterns
            if pattern.callback.__name__ == "view"
        }
        self.assertEqual(modules, {f"aggregator.{way}" for way in WAYS})
        chapter = (settings.BASE_DIR / "docs" / "fan-out.md").read_text()
        readme = (settings.BASE_DIR / "README.md").read_text()
        self.assertIn("## Seven ways to wait on many calls", chapter)
        self.assertIn("seven ways", readme)
        self.assertEqual(len(WAYS), 7)
