"""The lab's client: requests at this server, each timed as it starts and ends.

It sends from a thread and an event loop of its own, as an outside client
would, so a view that blocks the server's loop cannot also stop the clock
that times it.
"""

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

import httpx2

from aggregator import clients


@dataclass(frozen=True)
class Timed:
    """One request of `timed_requests`, when it started or when it ended.

    `at_ms` counts from the call to timed_requests. An ended request has a
    status: "ok" (2xx), "timeout" (504, or not done by the deadline) or
    "error", and the Server-Timing and X-View-Thread headers it came back with.
    """

    index: int
    at_ms: float
    ended: bool = False
    status: str = ""
    code: int | None = None
    server_timing: str = ""
    view_thread: str = ""
    error: str = ""


def status_of(code):
    if 200 <= code < 300:
        return "ok"
    return "timeout" if code == 504 else "error"


async def timed_requests(targets, seconds):
    """Send every Target at once; yield a Timed as each starts and as each ends.

    For the lab (lab/views.py), which fires them at this same server. They are
    sent from a thread of their own, on an event loop and a client of their
    own, as an outside client would send them:
    - a view that blocks this server's event loop (the pitfall) must not also
      stop the clock that times it: from this loop, five blocked requests
      would all seem to end together, when the fifth;
    - the fan-outs they reach take the shared client's slots for their own
      calls, so a run holding those slots while waiting for them would
      deadlock.
    A request not done within `seconds` ends as a timeout. Leaving early (the
    page was closed) cancels every request, and returns once the sending
    thread has closed its connections.
    """
    loop = asyncio.get_running_loop()
    events = asyncio.Queue()
    sender = Sender(
        targets,
        seconds,
        lambda timed: loop.call_soon_threadsafe(events.put_nowait, timed),
    )
    finished = loop.create_future()

    def send_then_tell():
        try:
            sender.run()
        finally:
            loop.call_soon_threadsafe(finished.set_result, None)

    threading.Thread(target=send_then_tell, name="lab-client", daemon=True).start()
    try:
        for _ in range(2 * len(targets)):
            yield await events.get()
    finally:
        sender.stop()
        await finished


class Sender:
    """The sending side of timed_requests, run on its own thread and loop."""

    def __init__(self, targets, seconds, report):
        self.targets, self.seconds, self.report = targets, seconds, report
        self.began = time.monotonic()
        self.lock = threading.Lock()
        self.stopped = False
        self.loop = self.task = None

    def run(self):
        # stop() cancels the sending task, maybe while it closes its client:
        # that cancel is the one asked for, not an error to report.
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(self.send_all())

    def stop(self):
        """Cancel every request, from any thread."""
        with self.lock:
            self.stopped = True
            if self.task is not None:
                with contextlib.suppress(RuntimeError):  # its loop already closed
                    self.loop.call_soon_threadsafe(self.task.cancel)

    def now_ms(self):
        return round((time.monotonic() - self.began) * 1000, 1)

    async def send_all(self):
        with self.lock:
            if self.stopped:
                return
            self.loop, self.task = asyncio.get_running_loop(), asyncio.current_task()
        # The run's time is the only read timeout: a fan-out may take its own
        # whole deadline to answer.
        options = clients.options(len(self.targets), read=self.seconds)
        async with httpx2.AsyncClient(**options) as client:
            await asyncio.gather(
                *(self.send(client, i, target) for i, target in enumerate(self.targets))
            )

    async def send(self, client, index, target):
        self.report(Timed(index, self.now_ms()))
        try:
            async with asyncio.timeout(self.seconds - (time.monotonic() - self.began)):
                response = await client.get(target.url, headers=target.headers)
        except TimeoutError:
            ended = Timed(index, self.now_ms(), True, "timeout", error="run deadline")
        except httpx2.TimeoutException:
            ended = Timed(index, self.now_ms(), True, "timeout", error="no answer")
        except httpx2.HTTPError as exc:
            ended = Timed(index, self.now_ms(), True, "error", error=type(exc).__name__)
        else:
            ended = Timed(
                index,
                self.now_ms(),
                True,
                status_of(response.status_code),
                response.status_code,
                response.headers.get("Server-Timing", ""),
                response.headers.get("X-View-Thread", ""),
            )
        self.report(ended)
