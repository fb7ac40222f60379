"""Where a response closes: on the event loop, with no thread hop, only when
the request ran no sync code and closing it runs nothing that could block
(close.py); everywhere else on a thread, as before. Driven in process
through LeanASGIHandler, with a recording receiver that close.py trusts."""

import asyncio
import threading
from unittest import mock

from django.core import signals
from django.core.cache.backends.locmem import LocMemCache
from django.test import SimpleTestCase, override_settings
from leanasgi.handler import LeanASGIHandler

from leanasgi import close

from . import views


class ClosingCache(LocMemCache):
    """A cache backend whose close() does something: closes on a thread."""

    def close(self, **kwargs):
        pass


def scope(path, method="GET", query=b"", headers=()):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


class WhereItClosesTests(SimpleTestCase):
    databases = {"default"}  # the file view's read makes a query

    def setUp(self):
        self.closed_on = []

        def recorder(**kwargs):
            self.closed_on.append(threading.current_thread())

        self.recorder = recorder
        trusted = {*close.NOTHING_TO_CLEAN_ON_THE_LOOP, recorder}
        patch = mock.patch.object(close, "NOTHING_TO_CLEAN_ON_THE_LOOP", trusted)
        patch.start()
        self.addCleanup(patch.stop)
        # The probe project's own counting receiver is one close.py does not
        # trust; these tests take it away, but for the one about it.
        signals.request_finished.disconnect(views._finished)
        self.addCleanup(signals.request_finished.connect, views._finished)
        signals.request_finished.connect(recorder)
        self.addCleanup(signals.request_finished.disconnect, recorder)

    def serve(self, path, body=b"", **kwargs):
        """Serve one request; the status and the loop's thread."""
        sent = []

        async def receive():
            if not sent and not hasattr(receive, "done"):
                receive.done = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()

        async def send(message):
            sent.append(message)

        async def run():
            await LeanASGIHandler()(scope(path, **kwargs), receive, send)
            return threading.current_thread()

        loop_thread = asyncio.run(run())
        return sent[0]["status"], loop_thread

    def test_a_request_with_no_sync_code_closes_on_the_loop(self):
        """An async view's plain response closes on the loop's own thread."""
        status, loop_thread = self.serve("/wait", query=b"delay=0")
        self.assertEqual(status, 200)
        self.assertEqual(self.closed_on, [loop_thread])

    def test_a_request_that_ran_sync_code_closes_on_its_thread(self):
        """A sync view's response closes on the thread that ran it."""
        status, loop_thread = self.serve("/ready")
        self.assertEqual(status, 200)
        (thread,) = self.closed_on
        self.assertIsNot(thread, loop_thread)
        self.assertTrue(thread.name.startswith("request-"), thread.name)

    def test_a_file_response_closes_on_a_thread(self):
        """A response holding a file (a resource of its own) hops to close."""
        status, loop_thread = self.serve("/file", query=b"id=close")
        self.assertEqual(status, 200)
        (thread,) = self.closed_on
        self.assertIsNot(thread, loop_thread)

    def test_a_receiver_close_py_does_not_know_gets_a_thread(self):
        """A request_finished receiver of the project's may block: a hop."""
        signals.request_finished.connect(views._finished)
        self.addCleanup(signals.request_finished.disconnect, views._finished)
        status, loop_thread = self.serve("/wait", query=b"delay=0")
        self.assertEqual(status, 200)
        (thread,) = self.closed_on
        self.assertIsNot(thread, loop_thread)

    def test_an_async_receiver_gets_a_thread(self):
        """An async receiver of request_finished: a sync send() on the loop
        could not run it, so the close hops, and it runs."""
        ran = []

        async def later(**kwargs):
            ran.append(True)

        signals.request_finished.connect(later)
        self.addCleanup(signals.request_finished.disconnect, later)
        status, loop_thread = self.serve("/wait", query=b"delay=0")
        self.assertEqual((status, ran), (200, [True]))
        self.assertIsNot(self.closed_on[0], loop_thread)

    def test_a_cache_with_a_no_op_close_closes_on_the_loop(self):
        """A cache the request built whose close() is Django's base no-op
        leaves nothing to close on a thread."""
        status, loop_thread = self.serve("/cache-touch")
        self.assertEqual(status, 200)
        self.assertEqual(self.closed_on, [loop_thread])

    @override_settings(CACHES={"default": {"BACKEND": f"{__name__}.ClosingCache"}})
    def test_a_cache_with_its_own_close_gets_a_thread(self):
        """A cache the request built whose close() does work: a hop."""
        status, loop_thread = self.serve("/cache-touch")
        self.assertEqual(status, 200)
        (thread,) = self.closed_on
        self.assertIsNot(thread, loop_thread)

    def test_an_upload_closes_on_a_thread(self):
        """A request whose uploaded files were parsed deletes their temporary
        files on close: a thread's work."""
        boundary = b"x-boundary"
        body = (
            b"--x-boundary\r\n"
            b'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\nhello\r\n--x-boundary--\r\n"
        )
        status, loop_thread = self.serve(
            "/upload",
            body=body,
            method="POST",
            headers=[
                (b"content-type", b"multipart/form-data; boundary=" + boundary),
                (b"content-length", str(len(body)).encode()),
            ],
        )
        self.assertEqual(status, 200)
        (thread,) = self.closed_on
        self.assertIsNot(thread, loop_thread)

    def test_a_connection_open_on_the_loops_thread_is_not_the_requests(self):
        """A connection opened on the loop's thread before the loop ran (at
        import, in a test) is not seen on the loop, where Django's connections
        are per context: the close stays on the loop, and does not raise."""
        from django.db import connection

        connection.ensure_connection()
        self.addCleanup(connection.close)
        status, loop_thread = self.serve("/wait", query=b"delay=0")
        self.assertEqual(status, 200)
        self.assertEqual(self.closed_on, [loop_thread])
        self.assertIsNotNone(connection.connection)  # left as it was

    def test_a_response_closed_when_its_body_raised_is_not_closed_again(self):
        """send_response closes a response whose body raised; if the client's
        leaving then lands, handle() must not close it a second time."""
        from django.http import HttpResponse

        response = HttpResponse()
        response._leanasgi_closed = True
        with mock.patch.object(response, "close") as closing:
            asyncio.run(LeanASGIHandler().close_response(response))
        closing.assert_not_called()
