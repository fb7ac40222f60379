"""leanasgi.stats(), every key, from a real uvicorn: idle, and while four
sync views share a cap of two threads. The keys are the README's."""

import asyncio
import re
import time

import httpx2
import pytest

from .server import PACKAGE_DIR, uvicorn

pytestmark = pytest.mark.slow


def readme_keys():
    section = (PACKAGE_DIR / "README.md").read_text().split("## `leanasgi.stats()`")[1]
    return set(re.findall(r"^\| `(\w+)` \|", section.split("\n## ")[0], re.M))


def test_every_key_idle_and_busy():
    """Idle: nothing lent or waiting. Busy (four 1 s sync views, a cap of
    two): two lent, two waiting, four in flight. After: none lent, the idle
    pool holds them, two waited, the longest wait near a second, no timeout."""
    with uvicorn({"LEANASGI_MAX_THREADS": "2"}) as (url, _):
        idle = httpx2.get(f"{url}/stats").json()

        async def busy():
            async with httpx2.AsyncClient(base_url=url, timeout=10) as client:
                views = asyncio.gather(
                    *(client.get("/thread-state?delay=1") for _ in range(4))
                )
                await asyncio.sleep(0.5)
                during = (await client.get("/stats")).json()
                await views
                return during

        during = asyncio.run(busy())
        time.sleep(0.2)  # the last closes
        after = httpx2.get(f"{url}/stats").json()
    assert set(idle) == set(during) == set(after) == readme_keys()
    assert idle["max_threads"] == 2 and idle["threads"] > 0
    assert (
        idle["lent_threads"],
        idle["waiting_for_thread"],
        idle["stuck_threads"],
    ) == (0, 0, 0)
    assert during["in_flight"] >= 5  # the four, and this one
    assert (during["lent_threads"], during["waiting_for_thread"]) == (2, 2)
    assert after["lent_threads"] == 0 and after["idle_threads"] == 2
    assert after["waited_for_thread"] == 2 and after["thread_wait_timeouts"] == 0
    assert 0.5 < after["longest_thread_wait"] < 2
