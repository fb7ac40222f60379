"""Each Django and asgiref internal that leanasgi relies on, pinned: an upgrade
that changes one fails here, naming the README.md section to revisit
("What it relies on")."""

import ast
import hashlib
import inspect
import subprocess
import sys
import textwrap

from asgiref.sync import ThreadSensitiveContext
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import SynchronousOnlyOperation
from django.core.handlers.asgi import ASGIHandler
from django.test import SimpleTestCase
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from leanasgi import middleware

REVISIT = "Django changed: revisit leanasgi/README.md, 'What it relies on'"


def code(function):
    """The function's body as normalised source (ast.unparse), docstring left out."""
    (tree,) = ast.parse(textwrap.dedent(inspect.getsource(function))).body
    body = tree.body[1:] if ast.get_docstring(tree) else tree.body
    return "\n".join(ast.unparse(statement) for statement in body)


class HandlerInternalsTests(SimpleTestCase):
    def test_handle_runs_the_view_sends_then_closes(self):
        """handle() calls run_get_response, then send_response, then closes
        the response, or sends request_finished when there is none."""
        body = code(ASGIHandler.handle)
        steps = [
            "await self.run_get_response(request)",
            "await self.send_response(response, send)",
            "await signals.request_finished.asend(sender=self.__class__)",
            "await sync_to_async(response.close)()",
        ]
        positions = [body.find(step) for step in steps]
        self.assertNotIn(-1, positions, REVISIT)
        self.assertEqual(positions, sorted(positions), REVISIT)

    def test_handle_is_one_the_lean_handle_was_written_against(self):
        """LeanASGIHandler.handle() replaces Django's with the same steps and
        outcomes (read the body, request_started, the view watched for a
        disconnect, send, close): Django's must be the 6.1 one it follows,
        or 5.2's and 6.0's, whose suites it passes too. A new one: compare."""
        digest = hashlib.sha256(code(ASGIHandler.handle).encode()).hexdigest()
        known = {"91836602d4731c5a": "6.1", "a9ccb76bb4a2967f": "5.2 and 6.0"}
        self.assertIn(digest[:16], known, REVISIT)

    def test_call_is_a_thread_sensitive_context_around_handle(self):
        """ASGIHandler.__call__ does nothing but refuse other scopes and run
        handle() in a ThreadSensitiveContext, which the lean __call__ replaces."""
        self.assertEqual(
            code(ASGIHandler.__call__),
            "if scope['type'] != 'http':\n"
            "    raise ValueError('Django can only handle ASGI/HTTP connections, not %s.'"
            " % scope['type'])\n"
            "async with ThreadSensitiveContext():\n"
            "    await self.handle(scope, receive, send)",
            REVISIT,
        )

    def test_thread_sensitive_context_takes_an_executor(self):
        """asgiref's ThreadSensitiveContext(executor=...), new in 3.13."""
        self.assertIn("executor", inspect.signature(ThreadSensitiveContext).parameters)

    def test_django_db_cleans_up_at_request_started(self):
        """django.db connects reset_queries and close_old_connections to
        request_started, and close_old_connections to request_finished: the
        receivers leanasgi moves. Checked in a fresh process."""
        check = (
            "import django; from django.conf import settings; settings.configure();"
            "django.setup(); from django.core import signals as s;"
            "from django.db import reset_queries as r, close_old_connections as c;"
            "print(s.request_started.disconnect(r), s.request_started.disconnect(c),"
            " s.request_finished.disconnect(c))"
        )
        result = subprocess.run(
            [sys.executable, "-c", check], capture_output=True, text=True
        )
        self.assertEqual(result.stdout.split(), ["True", "True", "True"], REVISIT)


class MiddlewareInternalsTests(SimpleTestCase):
    def test_middleware_mixin_acall_is_request_view_response(self):
        """MiddlewareMixin.__acall__ runs process_request, get_response and
        process_response, each hook through sync_to_async: what OnTheLoop
        reproduces with the hop made optional."""
        body = code(MiddlewareMixin.__acall__)
        for expected in (
            "if hasattr(self, 'process_request'):",
            "response = response or await self.get_response(request)",
            "if hasattr(self, 'process_response'):",
        ):
            self.assertIn(expected, body, REVISIT)
        self.assertEqual(body.count("await sync_to_async("), 2, REVISIT)

    async def test_djangos_stores_and_storages_do_no_io_when_built(self):
        """Each engine and storage the middleware trusts on the loop builds
        without a query, on the event loop (one would raise here)."""
        for path in middleware.LOOP_SAFE_SESSION_ENGINES:
            store = import_string(f"{path}.SessionStore")("x" * 32)
            self.assertIsInstance(store, SessionBase)
        request = type("Request", (), {"session": store, "COOKIES": {}})()
        for path in middleware.LOOP_SAFE_MESSAGE_STORAGES:
            import_string(path)(request)

    async def test_a_query_on_the_loop_does_raise(self):
        """The control for the test above: a query on the loop raises."""
        from django.contrib.auth.models import User

        with self.assertRaises(SynchronousOnlyOperation):
            User.objects.count()
