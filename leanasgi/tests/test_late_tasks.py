"""No behaviour worse than Django's handler: a task a view creates with
asyncio.create_task may query after the response, on both handlers, and on
the lean one leaves no thread lent when it ends. Against real uvicorn."""

import time

import httpx2
import pytest

from .server import uvicorn

pytestmark = pytest.mark.slow


def late_result(url, key, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = httpx2.get(f"{url}/late-result?key={key}").json()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"the task {key} never reported")


@pytest.mark.parametrize("stock", ["0", "1"])
def test_a_task_may_query_after_the_response(stock):
    """Twenty tasks each wait 0.3 s past their response, then make two
    queries: all run, none raises; on the lean handler each call ran on a
    request thread, and none is lent once they end."""
    with uvicorn({"LEANASGI_STOCK": stock}) as (url, _):
        for key in range(20):
            assert httpx2.get(f"{url}/late-task?key={key}&delay=0.3").status_code == 200
        results = [late_result(url, key) for key in range(20)]
        stats = httpx2.get(f"{url}/stats").json()
    assert all("threads" in r for r in results), results
    if stock == "0":
        names = {name for r in results for name in r["threads"]}
        assert all(name.startswith("request-") for name in names), names
        assert stats["lent_threads"] == 0, stats


def test_a_late_call_waits_for_a_thread_within_the_cap():
    """With a cap of 2, twenty tasks' late queries still all run, two at a
    time, and nothing is left lent."""
    with uvicorn({"LEANASGI_MAX_THREADS": "2"}) as (url, _):
        for key in range(20):
            httpx2.get(f"{url}/late-task?key=c{key}&delay=0.1")
        results = [late_result(url, f"c{key}") for key in range(20)]
        stats = httpx2.get(f"{url}/stats").json()
    assert all("threads" in r for r in results), results
    assert stats["lent_threads"] == 0 and stats["waiting_for_thread"] == 0, stats


def test_djangos_exit_check_is_what_the_handler_undoes():
    """The pin: asgiref 3.13 refuses a thread-sensitive call from a task that
    outlived a ThreadSensitiveContext with an executor, by its `_exited`
    flag; the handler clears that flag (handler.let_tasks_outlive)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async

    async def outlive(undo):
        executor = ThreadPoolExecutor(max_workers=1)
        context = ThreadSensitiveContext(executor=executor)
        async with context:
            task = asyncio.create_task(asyncio.sleep(0.05))
            gate = asyncio.Event()

            async def later():
                await gate.wait()
                return await sync_to_async(lambda: "ran")()

            task = asyncio.create_task(later())
        if undo:
            context._exited = False
            SyncToAsync.context_to_thread_executor[context] = executor
        gate.set()
        try:
            return await task
        except RuntimeError as error:
            return str(error)
        finally:
            executor.shutdown()

    assert "has exited" in asyncio.run(outlive(undo=False))
    assert asyncio.run(outlive(undo=True)) == "ran"
