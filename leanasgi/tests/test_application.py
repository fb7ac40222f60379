"""The outer ASGI layer: lifespan shutdown hooks, the hang-up event, stats."""

import asyncio

from django.test import SimpleTestCase

import leanasgi
from leanasgi import application as layer


async def run_lifespan(app):
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    return sent


class LifespanTests(SimpleTestCase):
    def setUp(self):
        registered = list(layer._shutdown)
        self.addCleanup(lambda: layer._shutdown.__setitem__(slice(None), registered))

    async def test_shutdown_runs_each_hook_once_even_after_one_fails(self):
        """Every callable registered with on_shutdown() runs once, on the
        server's loop, though an earlier one raised; startup marks the loop."""
        ran = []

        @leanasgi.on_shutdown
        async def failing():
            ran.append("failing")
            raise RuntimeError("closing failed")

        @leanasgi.on_shutdown
        async def closing():
            ran.append(("closing", leanasgi.on_serving_loop()))

        with self.assertLogs("leanasgi.application", "ERROR"):
            sent = await run_lifespan(leanasgi.Application(None))
        self.assertEqual(
            sent, ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        )
        self.assertEqual(ran, ["failing", ("closing", True)])


class HangUpAndStatsTests(SimpleTestCase):
    async def test_client_gone_is_set_on_disconnect_and_requests_are_counted(self):
        """An HTTP request's scope carries client_gone, set when the client
        disconnects; stats() counts it in flight meanwhile, then not."""
        seen = {}
        disconnected = asyncio.Event()

        async def inner(scope, receive, send):
            seen["in_flight"] = leanasgi.stats()["in_flight"]
            seen["before"] = scope["client_gone"].is_set()
            await receive()
            seen["after"] = scope["client_gone"].is_set()

        async def receive():
            await disconnected.wait()
            return {"type": "http.disconnect"}

        app = leanasgi.Application(inner)
        before = leanasgi.stats()["in_flight"] or 0
        task = asyncio.create_task(app({"type": "http"}, receive, None))
        await asyncio.sleep(0.01)
        disconnected.set()
        await task
        self.assertEqual(
            seen, {"in_flight": before + 1, "before": False, "after": True}
        )
        self.assertEqual(leanasgi.stats()["in_flight"], before)
        self.assertGreater(leanasgi.stats()["threads"], 0)


def test_a_stop_signal_runs_the_stop_callbacks_on_the_loop_then_the_servers_handler():
    """Once chained (at lifespan startup), SIGTERM still reaches the server's
    own handler at once, and the on_stop() callables run on the serving loop."""
    import signal

    seen = []
    registered = list(layer._on_stop)
    original = signal.signal(
        signal.SIGTERM, lambda number, frame: seen.append("server")
    )
    try:
        leanasgi.on_stop(lambda: seen.append(("stop", leanasgi.on_serving_loop())))

        async def serve():
            leanasgi.mark_serving_loop()
            layer.watch_for_stop()
            layer.watch_for_stop()  # chained once only
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0.05)

        asyncio.run(serve())
        assert seen == ["server", ("stop", True)]
        assert leanasgi.is_stopping()
    finally:
        signal.signal(signal.SIGTERM, original)
        layer._on_stop[:] = registered
        layer._stopping = False
