"""The line for threads, in process: a thread retired while it still runs
a call its request abandoned keeps its place under the cap until the call
ends (a request cancelled twice over leaves such a call behind)."""

import asyncio
import threading

from leanasgi.pool import IdleThreads


def test_a_stuck_thread_counts_against_the_cap_until_its_call_ends():
    """cap=1: lend, start a call that blocks, give the thread back while it
    runs. No thread can be lent until the call ends; then one can."""

    async def run():
        pool = IdleThreads(keep=1, cap=1)
        thread = pool.lend()
        release = threading.Event()
        call = thread.submit(release.wait)
        pool.give_back(thread, clean=True)
        assert (pool.lent, pool.stuck) == (0, 1)
        assert pool.lend() is None
        release.set()
        await asyncio.wrap_future(call)
        for _ in range(100):  # the hand-back is queued onto the loop
            if pool.stuck == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.stuck == 0
        assert pool.lend() is not None

    asyncio.run(run())
