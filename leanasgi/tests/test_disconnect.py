"""The lean handle()'s disconnect watch, against Django 6.1's TaskGroup: the
view is cancelled when the client leaves, a cancel from outside still
stands, and no listener error goes unretrieved."""

import asyncio
from unittest import mock

from django.core.exceptions import RequestAborted
from django.test import SimpleTestCase
from leanasgi.handler import _CancelledOnDisconnect


async def raise_soon(error, delay=0):
    await asyncio.sleep(delay)
    raise error


class DisconnectWatchTests(SimpleTestCase):
    def test_a_client_leaving_cancels_the_block_and_is_swallowed(self):
        """RequestAborted from the listener cancels the block; the task
        goes on, with no cancel left pending."""

        async def run():
            with _CancelledOnDisconnect(raise_soon(RequestAborted())):
                await asyncio.sleep(10)
            return asyncio.current_task().cancelling()

        self.assertEqual(asyncio.run(asyncio.wait_for(run(), 2)), 0)

    def test_a_cancel_from_outside_still_stands(self):
        """The server cancels the request while the listener also aborts:
        CancelledError goes on, as Django's TaskGroup lets it."""

        async def run():
            task = asyncio.current_task()
            asyncio.get_running_loop().call_soon(task.cancel)
            with _CancelledOnDisconnect(raise_soon(RequestAborted())):
                await asyncio.sleep(10)

        with self.assertRaises(asyncio.CancelledError):
            asyncio.run(run())

    def test_a_listener_error_is_raised_when_the_block_ends_first(self):
        """The listener fails (Django's assertion on an unexpected message)
        just as the block ends, before its callback ran: the error is raised,
        not left unretrieved."""

        async def run():
            with _CancelledOnDisconnect(
                raise_soon(AssertionError("odd message"))
            ) as watch:
                while not watch.listening.done():  # noqa: ASYNC110 -- no event to wait on
                    await asyncio.sleep(0)

        # The callback not yet run, as when the block's last await returns in
        # the same loop iteration as the listener ends.
        late = mock.patch.object(_CancelledOnDisconnect, "_ended", lambda *_: None)
        with late, self.assertRaisesMessage(AssertionError, "odd message"):
            asyncio.run(run())

    def test_a_listener_error_cancels_the_block_and_is_raised(self):
        """A listener error while the block still runs: raised in its place."""

        async def run():
            with _CancelledOnDisconnect(raise_soon(AssertionError("odd"), 0.01)):
                await asyncio.sleep(10)

        with self.assertRaisesMessage(AssertionError, "odd"):
            asyncio.run(asyncio.wait_for(run(), 2))
