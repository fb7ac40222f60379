"""make idle: 10,000 open pages on one uvicorn worker, and one like.

For each handler (this project's lean path, then Django as shipped with
DJANGO_STOCK=1) it starts one uvicorn worker, opens CONNECTIONS event streams
(/blog/<id>/events, the live likes of a post) a batch at a time, holds them for
HOLD seconds, publishes one like, and records:
- how many streams received it, and how fast (p50 and max, from the POST);
- the server's peak threads;
- its resident memory per open connection.
The output goes to docs/figures/idle-connections.txt.

Each connection is a file descriptor on both sides: the run raises this
process's open-file limit to its hard limit (the server inherits it), and says
so when the hard limit is too low for the connections asked.
"""

import asyncio
import resource
import statistics
import sys
import time

import httpx2

from harness.sampler import PeakSampler, group_usage
from harness.servers import BASE_DIR, CSRF, serve_process

CONNECTIONS = 10_000
HOLD = 10
BATCH = 500
POST = 5


def raise_open_file_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        return f"open-file limit {target} is under the {wanted} needed; raise it"
    return f"open-file limit raised from {soft} to {target}"


class Page:
    """One open event stream, read by hand: no client library holds 10,000."""

    def __init__(self):
        self.reader = self.writer = None
        self.heard_at = None

    async def open(self, host, port):
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.writer.write(
            f"GET /blog/{POST}/events/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        status = await self.reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"event stream refused: {status!r}")
        return await self.next_count()

    async def next_count(self):
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("stream closed")
            if line.startswith(b"data: "):
                return int(line[6:])

    async def wait_for(self, count):
        while await self.next_count() < count:
            pass
        self.heard_at = time.monotonic()

    def close(self):
        self.writer.close()


async def open_pages(url, count):
    host, port = url.removeprefix("http://").split(":")
    pages, failed = [], 0
    for start in range(0, count, BATCH):
        batch = [Page() for _ in range(min(BATCH, count - start))]
        results = await asyncio.gather(
            *(page.open(host, int(port)) for page in batch), return_exceptions=True
        )
        for page, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
            else:
                pages.append(page)
    return pages, failed


async def one_run(url, process, connections):
    rss_before, threads_before = group_usage(process.pid)
    with PeakSampler(process.pid, interval=0.2) as peak:
        opened = time.monotonic()
        pages, refused = await open_pages(url, connections)
        open_seconds = time.monotonic() - opened
        await asyncio.sleep(HOLD)
        rss_holding, _ = group_usage(process.pid)
        async with httpx2.AsyncClient(timeout=30) as client:
            liked_at = time.monotonic()
            likes = (
                await client.post(f"{url}/api/blog/{POST}/like", headers=CSRF)
            ).json()["likes"]
        # The event waits in each socket's buffer until its page reads it.
        waits = [asyncio.create_task(page.wait_for(likes)) for page in pages]
        _, late = await asyncio.wait(waits, timeout=30)
        for task in late:
            task.cancel()
    heard = [page.heard_at - liked_at for page in pages if page.heard_at]
    for page in pages:
        page.close()
    per_connection = (rss_holding - rss_before) * 1024 / max(len(pages), 1)
    return {
        "opened": len(pages),
        "refused": refused,
        "open_seconds": open_seconds,
        "heard": len(heard),
        "p50_ms": statistics.median(heard) * 1000 if heard else float("nan"),
        "max_ms": max(heard) * 1000 if heard else float("nan"),
        "threads_before": threads_before,
        "peak_threads": peak.threads,
        "kib_per_connection": per_connection,
    }


def main():
    connections = int(sys.argv[1]) if len(sys.argv) > 1 else CONNECTIONS
    limit = raise_open_file_limit(connections + 1000)
    lines = [
        f"# {connections} event streams on one uvicorn worker, held {HOLD} s, then"
        " one like (python -m bench.idle, make idle)",
        f"# {limit}",
    ]
    print("\n".join(lines), flush=True)
    for name, stock in [("lean handler", "0"), ("DJANGO_STOCK=1", "1")]:
        env = {"DJANGO_STOCK": stock, "BLOG_EVENTS_HEARTBEAT": "15"}
        args = ("--no-access-log", "--backlog", "4096")
        with serve_process("uvicorn", *args, env=env, timeout=60) as (url, process):
            result = asyncio.run(one_run(url, process, connections))
        line = (
            f"{name}: {result['opened']} open ({result['refused']} refused) in"
            f" {result['open_seconds']:.1f} s; {result['heard']} heard the like,"
            f" p50 {result['p50_ms']:.0f} ms, max {result['max_ms']:.0f} ms;"
            f" threads {result['threads_before']} before, peak {result['peak_threads']};"
            f" {result['kib_per_connection']:.0f} KiB of RSS per open connection"
        )
        lines.append(line)
        print(line, flush=True)
    out = BASE_DIR / "docs" / "figures" / "idle-connections.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"Saved: {out.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
