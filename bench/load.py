"""A small HTTP load generator: many concurrent GETs, each timed on its own.

Why not ab: ab aborts the whole run when one request passes its timeout, and
a benchmark of servers that queue (a one-thread WSGI worker) must record those
requests as failed and go on. Each request here is one connection with
`Connection: close`, as ab sends by default, read to the end. It runs on uvloop
when installed: at 1000 concurrent requests the plain asyncio loop of the
client itself adds a measurable delay.
"""

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Outcome:
    latencies: list = field(default_factory=list)  # seconds, successful requests
    failures: dict = field(default_factory=dict)  # reason -> count
    elapsed: float = 0.0

    @property
    def failed(self):
        return sum(self.failures.values())

    def fail(self, reason):
        self.failures[reason] = self.failures.get(reason, 0) + 1


async def fetch(host, port, request):
    """One request; its status and the seconds until the answer was read whole."""
    status, seconds, _ = await fetch_body(host, port, request)
    return status, seconds


async def fetch_body(host, port, request):
    """One request: its status, the seconds it took, and the body's bytes."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        answer = await reader.read(-1)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, time.perf_counter() - started, answer.partition(b"\r\n\r\n")[2]


def request_for(url):
    """The bytes of a GET of `url`, closing the connection after the answer."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts, (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "User-Agent: bench\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode()


async def get_all(url, count):
    """`count` concurrent GETs of `url`: (status, seconds, body) for each."""
    parts, request = request_for(url)
    return await asyncio.gather(
        *(fetch_body(parts.hostname, parts.port, request) for _ in range(count))
    )


async def load(url, *, concurrency, requests=None, duration=None, patience=60):
    """`requests` GETs of `url`, `concurrency` at a time (like ab -c -n), or as many
    as fit in `duration` seconds. A request not answered within `patience`
    seconds counts as failed."""
    parts, request = request_for(url)
    outcome = Outcome()
    remaining = requests
    started = time.perf_counter()
    stop_at = started + duration if duration else None

    async def worker():
        nonlocal remaining
        while True:
            if stop_at is not None and time.perf_counter() >= stop_at:
                return
            if remaining is not None:
                if remaining <= 0:
                    return
                remaining -= 1
            try:
                async with asyncio.timeout(patience):
                    status, seconds = await fetch(parts.hostname, parts.port, request)
            except TimeoutError:
                outcome.fail("timeout")
            except OSError as exc:
                outcome.fail(exc.__class__.__name__)
            else:
                if 200 <= status < 300:
                    outcome.latencies.append(seconds)
                else:
                    outcome.fail(f"HTTP {status}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.elapsed = time.perf_counter() - started
    return outcome


def run(url, **options):
    """load() on a fresh event loop: uvloop's when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(load(url, **options))
    return uvloop.run(load(url, **options))


def latencies(url, concurrency, requests):
    """`requests` GETs, `concurrency` at a time: one line of their latencies."""
    outcome = run(url, concurrency=concurrency, requests=requests)
    ordered = sorted(seconds * 1000 for seconds in outcome.latencies)
    return (
        f"{len(ordered)} answered, {outcome.failed} failed; "
        f"min {ordered[0]:.0f} ms, median {ordered[len(ordered) // 2]:.0f} ms, "
        f"max {ordered[-1]:.0f} ms; all {outcome.elapsed:.2f} s"
    )
