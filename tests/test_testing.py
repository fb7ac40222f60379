"""Testing async views: what a TestCase's transaction holds, and what it does not.

TestCase wraps each test in a transaction on the test thread's connection,
rolled back at the end. Django runs an async test method with async_to_sync,
so the test's ORM calls, and those of every view self.async_client calls,
come back to that thread: inside the transaction. Work on another connection
is not: a view's queries sent to threads of their own, and a sync test's
asyncio.run(), whose loop sends ORM calls to asgiref's one shared thread.
Each is shown wrong beside right; docs/orm.md, "Testing async views".
"""

import asyncio
import contextlib
import logging
import threading
import unittest

from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, connections
from django.test import TestCase, TransactionTestCase
from django.urls import reverse
from django.utils import timezone

from blog.models import Author, Post

REVISIT = "changed upstream: revisit docs/pitfalls.md, 'What these lessons rely on'"


def a_post():
    author = Author.objects.create(name="Ada")
    return Post.objects.create(
        title="T", slug="t", body="A post.", author=author, published=timezone.now()
    )


def queries(name):
    """A pitfalls view's three queries, made at once, taking no time."""
    return reverse(f"blog:pitfall_{name}") + "?seconds=0"


def run_alone(test):
    """Run one TestCase test, as the runner would, inside this one."""
    result = unittest.TestResult()
    unittest.TestSuite([test]).run(result)
    assert result.wasSuccessful(), result.failures + result.errors


def close_the_shared_thread_connections():
    """asyncio.run()'s ORM calls run on asgiref's one shared thread, whose
    connections outlive the test unless closed there."""
    asyncio.run(sync_to_async(connections.close_all)())


@contextlib.contextmanager
def database_warnings():
    """The project's "database unavailable" warnings logged inside the block."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("mysite.middleware")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


class Reported:
    """Assertions on the pitfalls views' answers, each printing a line for the
    figure (bench/orm_figures.py runs this module with -s)."""

    def report(self, response, warnings=()):
        body = response.json()
        seen = [w.getMessage() for w in warnings] or body.get("posts_seen", body)
        print(f"\nFIGURE {self._testMethodName}: HTTP {response.status_code}, {seen}")

    def assertSeesThePost(self, response):
        self.report(response)
        self.assertEqual(response.json()["posts_seen"], [1, 1, 1])

    def assertOutsideTheTransaction(self, response, warnings):
        """What a connection other than the test's gets: on PostgreSQL, none of
        the test's uncommitted rows; on SQLite's in-memory test database, whose
        connections share one cache, a locked table (answered 503 here)."""
        self.report(response, warnings)
        if connection.vendor == "sqlite":
            self.assertEqual(response.status_code, 503)
            self.assertIn("database table is locked", warnings[0].getMessage())
        else:
            self.assertEqual(response.json()["posts_seen"], [0, 0, 0])
            self.assertEqual(warnings, [])


class AsyncTestTests(Reported, TestCase):
    async def test_an_async_test_and_its_views_share_the_transaction(self):
        """An async test runs under async_to_sync: its ORM calls, and those of
        the views it calls through self.async_client, run on the test's thread,
        inside the test's transaction, and see the post it created."""
        test_thread = threading.current_thread()

        @sync_to_async
        def where():
            return threading.current_thread(), connection.in_atomic_block

        await sync_to_async(a_post)()
        self.assertEqual(await where(), (threading.main_thread(), True), REVISIT)
        self.assertIsNot(test_thread, threading.main_thread(), REVISIT)
        response = await self.async_client.get(queries("gathered_queries"))
        self.assertSeesThePost(response)
        self.assertEqual(response.json()["threads"], [threading.main_thread().name])

    async def test_async_client_requests_share_the_test_thread(self):
        """AsyncClient opens no thread context per request, as the ASGI handler
        does: requests gathered in a test run their sync code one after
        another on the test's thread. A concurrency claim needs a real server
        (tests/test_blog_servers.py sees three threads for the same three)."""
        requests = (self.async_client.get(queries("one_query")) for _ in range(3))
        responses = await asyncio.gather(*requests)
        threads = {name for r in responses for name in r.json()["threads"]}
        self.assertEqual(threads, {threading.main_thread().name}, REVISIT)

    async def test_queries_on_threads_of_their_own_miss_the_test_data(self):
        """PITFALL: a view that sends its queries to threads of their own
        (thread_sensitive=False) queries on their connections, outside the
        test's transaction: it misses the post the test created."""
        await sync_to_async(a_post)()
        with database_warnings() as warnings:
            response = await self.async_client.get(queries("queries_apart"))
        self.assertOutsideTheTransaction(response, warnings)


class TransactionTests(Reported, TransactionTestCase):
    async def test_queries_on_threads_of_their_own_see_committed_data(self):
        """The fix: TransactionTestCase commits the test's writes (and empties
        the tables after), so every connection sees them."""
        await sync_to_async(a_post)()
        response = await self.async_client.get(queries("queries_apart"))
        self.assertSeesThePost(response)
        self.assertNotIn(threading.main_thread().name, response.json()["threads"])

    def test_what_an_async_test_wrote_is_rolled_back(self):
        """A like an async TestCase test gave through the API is gone once that
        test ends: the view wrote inside the test's transaction."""
        post = a_post()
        like = f"/api/blog/{post.pk}/like"

        class Likes(TestCase):
            async def test_like(self):
                response = await self.async_client.post(like)
                self.assertEqual(response.json()["likes"], 1)

        run_alone(Likes("test_like"))
        post.refresh_from_db()
        self.assertEqual(post.likes, 0)

    def test_what_asyncio_run_wrote_outlives_the_test(self):
        """PITFALL: a like a sync TestCase test gave with asyncio.run() is
        still there after the test's rollback: it was committed on another
        connection (pytest-asyncio's loops do the same). On SQLite's in-memory
        test database the other connection cannot write at all while the
        test's transaction is open."""
        post = a_post()
        like = f"/api/blog/{post.pk}/like"
        answers = []

        class Likes(TestCase):
            def test_like(self):
                with database_warnings() as warnings:
                    answers.append(asyncio.run(self.async_client.post(like)))
                answers.append(warnings)

        self.addCleanup(close_the_shared_thread_connections)
        run_alone(Likes("test_like"))
        post.refresh_from_db()
        response, warnings = answers
        self.report(response, warnings)
        if connection.vendor == "sqlite":
            self.assertEqual(response.status_code, 503)
            self.assertIn("database table is locked", warnings[0].getMessage())
            self.assertEqual(post.likes, 0)
        else:
            self.assertEqual(response.json()["likes"], 1)
            self.assertEqual(post.likes, 1)


class EventLoopTests(Reported, TestCase):
    def test_asyncio_run_sends_the_orm_to_another_connection(self):
        """PITFALL: a sync test that runs the async client with asyncio.run():
        no async_to_sync started that loop, so the view's ORM calls go to
        asgiref's one shared thread and its connection, outside the test's
        transaction (pytest-asyncio's loops do the same)."""
        self.addCleanup(close_the_shared_thread_connections)
        a_post()
        with database_warnings() as warnings:
            response = asyncio.run(self.async_client.get(queries("gathered_queries")))
        self.assertOutsideTheTransaction(response, warnings)

    def test_async_to_sync_keeps_the_orm_on_the_test_thread(self):
        """The fix in a sync test: async_to_sync, which sends the view's ORM
        calls back to the test's thread and its transaction."""
        a_post()
        response = async_to_sync(self.async_client.get)(queries("gathered_queries"))
        self.assertSeesThePost(response)
        self.assertEqual(response.json()["threads"], [threading.main_thread().name])

    def test_asyncio_run_uses_one_shared_thread(self):
        """The thread asyncio.run's thread-sensitive calls go to is not the
        test's, and it is the same one for every loop: asgiref's
        SyncToAsync.single_thread_executor."""
        name = sync_to_async(lambda: threading.current_thread().name)
        first, second = asyncio.run(name()), asyncio.run(name())
        self.assertEqual(first, second, REVISIT)
        self.assertNotEqual(first, threading.current_thread().name, REVISIT)
