"""Behaviour pins: each internal leanasgi relies on, checked by what it does,
not by its name. Each pin is a function that raises AssertionError when the
behaviour is gone, and each test runs it twice: against the installed
Django and asgiref, where it passes, and against a deliberately changed
copy of the same upstream, where it must fail. So the pin is shown to be
able to fail (README.md, "What it relies on")."""

import asyncio
import builtins
import contextlib
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.contrib.sessions.backends.file import SessionStore as FileStore
from django.core.handlers.base import BaseHandler
from django.core.signals import request_finished
from django.db import close_old_connections, reset_queries
from django.dispatch import Signal
from django.http import HttpResponse
from django.test import SimpleTestCase
from django.utils.module_loading import import_string
from leanasgi.threads import describe

from leanasgi import middleware


def calls_go_to_the_executor(context_class=ThreadSensitiveContext):
    """Inside ThreadSensitiveContext(executor=E) every thread-sensitive call,
    gathered or not, runs on E's one thread."""

    async def run():
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pinned")
        name = sync_to_async(lambda: threading.current_thread().name)
        try:
            async with context_class(executor=executor):
                return await asyncio.gather(name(), name(), name())
        finally:
            executor.shutdown()

    names = asyncio.run(run())
    assert all(n.startswith("pinned") for n in names), names


class Ignoring(ThreadSensitiveContext):
    """A changed asgiref: the executor is accepted, and ignored."""

    def __init__(self, *, executor=None):
        super().__init__()


def receivers_are_sync(receivers=(reset_queries, close_old_connections)):
    """django.db's two request receivers are plain functions, which asend()
    must run in a thread: why the handler moves them off request_started."""
    for receiver in receivers:
        assert not asyncio.iscoroutinefunction(receiver), receiver


async def _async_receiver(**kwargs):
    pass


def asend_runs_sync_receivers_in_a_thread(signal_class=Signal):
    """Signal.asend() runs a sync receiver on another thread than the loop's."""
    seen = []
    signal = signal_class()

    def receiver(**kwargs):
        seen.append(threading.current_thread())

    signal.connect(receiver, weak=False)

    async def send():
        await signal.asend(sender=None)
        return threading.current_thread()

    loop_thread = asyncio.run(send())
    assert seen and seen[0] is not loop_thread, (seen, loop_thread)


class InlineSignal(Signal):
    """A changed Django: asend calls sync receivers right on the loop."""

    async def asend(self, sender, **named):
        sync_receivers, _ = self._live_receivers(sender)
        return [(r, r(signal=self, sender=sender, **named)) for r in sync_receivers]


class IOSeen(AssertionError):
    pass


@contextlib.contextmanager
def no_io():
    """Any file, directory or socket access in the block raises IOSeen."""

    def refuse(name):
        def refused(*args, **kwargs):
            raise IOSeen(f"{name}{args[:1]}")

        return refused

    patches = [
        mock.patch.object(builtins, "open", refuse("open")),
        mock.patch.object(os, "open", refuse("os.open")),
        mock.patch.object(os, "stat", refuse("os.stat")),
        mock.patch.object(os, "lstat", refuse("os.lstat")),
        mock.patch.object(os, "listdir", refuse("os.listdir")),
        mock.patch.object(os, "scandir", refuse("os.scandir")),
        mock.patch.object(socket.socket, "connect", refuse("connect")),
    ]
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def stores_build_without_io(stores=None, storages=None):
    """Each session store and message storage the middleware trusts on the
    loop is built without touching a file, a directory or a socket (the
    database: a query on the loop raises, test_internals.py). The file
    engine looks for its folder on the first store of a process only."""
    if stores is None:
        engines = sorted(middleware.LOOP_SAFE_SESSION_ENGINES)
        stores = [import_string(f"{engine}.SessionStore") for engine in engines]
    if storages is None:
        storages = sorted(middleware.LOOP_SAFE_MESSAGE_STORAGES)
    for store in stores:
        store("x" * 32)  # that first store
    built = None
    with no_io():
        for store in stores:
            built = store("x" * 32)
        request = type("Request", (), {"session": built, "COOKIES": {}})()
        for storage in storages:
            import_string(storage)(request)


class ReadingStore(FileStore):
    """A changed Django: the file store reads its file when built."""

    def __init__(self, session_key=None):
        super().__init__(session_key)
        os.stat(self.storage_path)


def async_process_view_is_called_as_it_is(adapt=BaseHandler.adapt_method_mode):
    """Django's handler calls an async process_view unwrapped in async mode
    (and wraps a sync one): how CsrfViewMiddleware's twin stays on the loop."""

    async def process_view(request, view, args, kwargs):
        pass

    def sync_process_view(request, view, args, kwargs):
        pass

    handler = BaseHandler()
    assert adapt(handler, True, process_view) is process_view
    assert adapt(handler, True, sync_process_view) is not sync_process_view


def wrapping_all(self, is_async, method, *args, **kwargs):
    """A changed Django: every hook is wrapped, async ones too."""

    async def wrapped(*hook_args):
        return await method(*hook_args)

    return wrapped if is_async else method


def thread_handler_ends_with_the_call(to_thread=SyncToAsync.__call__):
    """asgiref's SyncToAsync submits a partial whose last argument is the
    call (a partial of the function): what describe() names."""

    def named():
        return threading.current_thread().name

    seen = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            seen.append(describe(fn))
            return super().submit(fn, *args, **kwargs)

    async def run():
        executor = Recording(max_workers=1)
        with mock.patch.object(SyncToAsync, "__call__", to_thread):
            async with ThreadSensitiveContext(executor=executor):
                await sync_to_async(named)()
        executor.shutdown()

    asyncio.run(run())
    assert seen == [f"{__name__}.thread_handler_ends_with_the_call.<locals>.named"], (
        seen
    )


async def _anonymous_call(self, *args, **kwargs):
    """A changed asgiref: the call goes to the executor wrapped anonymously."""
    loop = asyncio.get_running_loop()
    executor = self.context_to_thread_executor[self.thread_sensitive_context.get()]
    return await loop.run_in_executor(executor, lambda: self.func(*args, **kwargs))


def closing_runs_closers_then_request_finished(response_class=HttpResponse):
    """HttpResponse.close() calls each of its _resource_closers, then sends
    request_finished with the handler class as sender: close.py looks at
    both before closing on the loop."""
    order = []

    def receiver(sender, **kwargs):
        order.append(("finished", sender))

    response = response_class()
    response._resource_closers.append(lambda: order.append(("closer", None)))
    response._handler_class = Signal  # any class: the sender
    with mock.patch.object(request_finished, "receivers", []):  # ours alone
        request_finished.connect(receiver)
        response.close()
    assert order == [("closer", None), ("finished", Signal)], order


class ClosersElsewhere(HttpResponse):
    """A changed Django: close() keeps its resources in another list."""

    def close(self):
        self.closed = True
        request_finished.send(sender=self._handler_class)


def a_language_loads_once(forget=lambda: None):
    """Once a language has been activated in a process, picking and
    activating it again reads no file: why Locale's twin hops only for a
    language's first request."""
    from django.test import RequestFactory
    from django.utils import translation

    request = RequestFactory().get("/", headers={"accept-language": "de"})
    translation.activate(translation.get_language_from_request(request))
    forget()
    try:
        with no_io():
            translation.activate(translation.get_language_from_request(request))
    finally:
        translation.deactivate()


def forgetting():
    """A changed Django: the catalogs are not kept."""
    from django.utils.translation import trans_real

    trans_real._translations.clear()


class PinTests(SimpleTestCase):
    def assert_pin(self, pin, changed):
        """`pin` holds on the installed upstream and fails on the changed one."""
        pin()
        with self.assertRaises(AssertionError, msg="the pin cannot fail"):
            changed()

    def test_thread_sensitive_calls_go_to_the_contexts_executor(self):
        """asgiref 3.13's executor= is where every call in the block runs."""
        self.assert_pin(
            calls_go_to_the_executor, lambda: calls_go_to_the_executor(Ignoring)
        )

    def test_django_dbs_request_receivers_are_sync(self):
        """reset_queries and close_old_connections are sync functions."""
        self.assert_pin(
            receivers_are_sync, lambda: receivers_are_sync([_async_receiver])
        )

    def test_asend_runs_sync_receivers_in_a_thread(self):
        """asend() sends a sync receiver to a thread, never the loop."""
        self.assert_pin(
            asend_runs_sync_receivers_in_a_thread,
            lambda: asend_runs_sync_receivers_in_a_thread(InlineSignal),
        )

    def test_stores_and_storages_are_built_without_io(self):
        """Building Django's stores and storages touches no file or socket."""
        self.assert_pin(
            stores_build_without_io,
            lambda: stores_build_without_io(stores=[ReadingStore], storages=[]),
        )

    def test_an_async_process_view_is_called_unwrapped(self):
        """Django adapts a sync process_view, and leaves an async one be."""
        self.assert_pin(
            async_process_view_is_called_as_it_is,
            lambda: async_process_view_is_called_as_it_is(wrapping_all),
        )

    def test_what_describe_names_is_the_call_itself(self):
        """The executor is handed the call, which describe() can name."""
        self.assert_pin(
            thread_handler_ends_with_the_call,
            lambda: thread_handler_ends_with_the_call(_anonymous_call),
        )

    def test_closing_runs_the_closers_then_request_finished(self):
        """close() runs _resource_closers, then sends request_finished."""
        self.assert_pin(
            closing_runs_closers_then_request_finished,
            lambda: closing_runs_closers_then_request_finished(ClosersElsewhere),
        )

    def test_a_languages_catalogs_load_once_per_process(self):
        """A second activation of a language reads nothing from disk."""
        self.assert_pin(
            a_language_loads_once, lambda: a_language_loads_once(forgetting)
        )
