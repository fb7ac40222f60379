"""What the lessons rely on in the pinned Django, asgiref and Python, each
held here in process, so that the upgrade that changes one fails with the
chapter to revisit (docs/pitfalls.md, "What these lessons rely on")."""

import asyncio
import contextvars
import inspect
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.test import SimpleTestCase
from ninja.operation import AsyncOperation
from ninja.security import django_auth

from blog.api import AsyncSessionAuth
from blog.models import Post

REVISIT = "changed upstream: revisit docs/pitfalls.md, 'What these lessons rely on'"


class StreamingClaimTests(SimpleTestCase):
    async def test_a_sync_iterator_is_read_whole_before_the_first_chunk(self):
        """Served asynchronously, a StreamingHttpResponse given a sync iterator
        warns and reads every item before it yields the first."""
        produced = []

        def items():
            for number in range(3):
                produced.append(number)
                yield f"{number}\n"

        response = StreamingHttpResponse(items())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chunks = aiter(response)
            first = await anext(chunks)
        self.assertEqual((first, produced), (b"0\n", [0, 1, 2]), REVISIT)
        self.assertIn(
            "must consume synchronous iterators", str(caught[0].message), REVISIT
        )

    def test_an_async_iterator_is_read_whole_when_served_synchronously(self):
        """Under WSGI it is the other way round: an async iterator is read
        whole, with a warning, before the first chunk."""
        produced = []

        async def items():
            for number in range(3):
                produced.append(number)
                yield f"{number}\n"

        response = StreamingHttpResponse(items())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = next(iter(response))
        self.assertEqual((first, produced), (b"0\n", [0, 1, 2]), REVISIT)
        self.assertIn(
            "must consume asynchronous iterators", str(caught[0].message), REVISIT
        )


def orm_threads_per_context(context_class=ThreadSensitiveContext):
    """Two contexts at once, each gathering three async ORM calls: the
    threads each context's calls ran on (its sync twins, patched to record
    the thread and query nothing)."""
    threads = {}

    def recording(queryset):
        threads.setdefault(current.get(), set()).add(threading.get_ident())
        return 1

    current = contextvars.ContextVar("request")

    async def one_request(name):
        current.set(name)
        async with context_class():
            await asyncio.gather(*(Post.objects.acount() for _ in range(3)))

    async def two_requests():
        await asyncio.gather(one_request("a"), one_request("b"))

    with mock.patch.object(QuerySet, "count", recording):
        asyncio.run(two_requests())  # a sync test: no async_to_sync above it
    return threads


class NoContext:
    """A changed asgiref: ThreadSensitiveContext does nothing."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None


class OrmClaimTests(SimpleTestCase):
    def test_gathered_orm_calls_of_one_context_share_one_thread(self):
        """Within one ThreadSensitiveContext (Django opens one per request),
        every async ORM call is its sync twin run on one same thread,
        gathered or not, and another context's calls run on another."""
        threads = orm_threads_per_context()
        self.assertEqual([len(threads["a"]), len(threads["b"])], [1, 1], REVISIT)
        self.assertNotEqual(threads["a"], threads["b"], REVISIT)

    def test_the_claim_fails_without_the_context(self):
        """The control: with the context a no-op, both requests' calls share
        asgiref's one process-wide thread, and the test above would fail."""
        threads = orm_threads_per_context(NoContext)
        self.assertEqual(threads["a"], threads["b"])

    async def test_calls_that_are_not_thread_sensitive_share_the_loop_executor(self):
        """sync_to_async(thread_sensitive=False) runs on the running loop's
        default executor, one the whole process shares, of at most
        min(32, CPUs + 4) threads: why blog/pitfalls.py's queries_apart, the
        live reads and the login pass an executor of their own."""
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="shared"))
        name = sync_to_async(
            lambda: threading.current_thread().name, thread_sensitive=False
        )
        self.assertTrue((await name()).startswith("shared"), REVISIT)
        default = ThreadPoolExecutor()
        self.assertEqual(
            default._max_workers, min(32, os.process_cpu_count() + 4), REVISIT
        )
        default.shutdown()


class AsyncioClaimTests(SimpleTestCase):
    async def test_gather_leaves_the_others_running_and_taskgroup_cancels_them(self):
        """When one awaitable fails, asyncio.gather raises and leaves the
        others running; asyncio.TaskGroup cancels them and raises an
        ExceptionGroup (docs/fan-out.md, "Fail fast")."""

        async def fails():
            raise ValueError("no")

        gathered = asyncio.ensure_future(asyncio.sleep(10))
        with self.assertRaises(ValueError):
            await asyncio.gather(fails(), gathered)
        self.assertFalse(gathered.done(), REVISIT)
        gathered.cancel()

        grouped = []
        with self.assertRaises(ExceptionGroup):
            async with asyncio.TaskGroup() as group:
                grouped.append(group.create_task(asyncio.sleep(10)))
                group.create_task(fails())
        self.assertTrue(grouped[0].cancelled(), REVISIT)


class NinjaClaimTests(SimpleTestCase):
    def test_django_auth_is_sync_and_async_operations_run_it_in_a_thread(self):
        """django-ninja's django_auth is a sync callable, which an async
        operation runs with sync_to_async (a thread hop per request); an auth
        whose authenticate() is async is awaited on the loop."""
        self.assertFalse(django_auth.is_async, REVISIT)
        self.assertTrue(AsyncSessionAuth().is_async, REVISIT)
        source = inspect.getsource(AsyncOperation._run_authentication)
        self.assertIn("sync_to_async(callback)", source, REVISIT)


class ClientVersionClaimTests(SimpleTestCase):
    def test_httpx_has_had_a_release_since_the_storm_on_the_same_httpcore(self):
        """docs/clients-that-give-up.md: the storm ran on httpx 0.28.1; this
        virtualenv has httpx 0.29.0 (django-bolt's), on the same httpcore
        1.0.9, and the site's own client is httpx2."""
        from importlib.metadata import requires, version

        self.assertEqual(version("httpx"), "0.29.0")
        self.assertEqual(version("httpcore"), "1.0.9")
        self.assertTrue(any(r.startswith("httpx") for r in requires("django-bolt")))
        chapter = (settings.BASE_DIR / "docs" / "clients-that-give-up.md").read_text()
        self.assertIn("httpx 0.29.0", chapter)
