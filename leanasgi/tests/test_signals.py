"""Django's connection clean-up, moved from request_started to the end of
request_finished, without getting in the way of Django's test client."""

from django.contrib.auth.models import User
from django.core import signals
from django.db import close_old_connections, connection, reset_queries
from django.test import TestCase
from leanasgi.handler import LeanASGIHandler, mark_thread_clean


def receivers(signal):
    return [ref() for _, ref, *_ in signal.receivers]


class CleanUpTests(TestCase):
    def test_the_clean_up_runs_last_at_request_finished(self):
        """Once a lean handler is built, request_started has neither of
        django.db's receivers, and request_finished ends with both and the
        marker, after any receiver connected before."""

        def earlier(**kwargs):
            pass

        signals.request_finished.connect(earlier)
        self.addCleanup(signals.request_finished.disconnect, earlier)
        LeanASGIHandler()
        LeanASGIHandler()  # idempotent
        started = receivers(signals.request_started)
        self.assertNotIn(reset_queries, started)
        self.assertNotIn(close_old_connections, started)
        finished = receivers(signals.request_finished)
        self.assertEqual(
            finished[-3:], [close_old_connections, reset_queries, mark_thread_clean]
        )
        self.assertLess(finished.index(earlier), finished.index(close_old_connections))

    def test_the_test_client_keeps_its_transaction(self):
        """Django's test client disconnects close_old_connections while it
        closes a response, to keep the test's transaction; with the clean-up
        moved it still can, so data made in the test survives a request."""
        LeanASGIHandler()
        User.objects.create(username="kept")
        self.assertEqual(self.client.get("/thread-state").status_code, 200)
        self.assertFalse(connection.closed_in_transaction)
        self.assertFalse(connection.needs_rollback)
        self.assertTrue(User.objects.filter(username="kept").exists())
