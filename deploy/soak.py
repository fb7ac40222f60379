"""make soak: minutes of mixed load through nginx, watching for slow leaks.

`python -m deploy.soak [seconds]` starts the cluster of deploy/cluster.py and
keeps CONCURRENCY requests in flight through nginx: say-afters, async
fan-outs, blog pages and API reads, and likes. Every second it samples each app
server's resident memory and threads (its whole process group) and the number
of PostgreSQL connections; every 10 s it prints a progress line. At the end it
prints a summary with the slope of each series, checks the pass criteria and
draws docs/figures/soak.png (deploy/soak_outcome.py).

Pass criteria: no failed request; the likes counted exactly; resident memory
after the warm-up growing less than 10%; PostgreSQL connections never above
the app servers' pools combined, and the task worker's 2. tests/test_cluster.py
runs a 30 s version.
"""

import asyncio
import itertools
import sys
import threading
import time

import httpx2

from harness.sampler import group_usage
from harness.servers import BASE_DIR, CSRF

from .cluster import WORKER_ENV, running_cluster, stop_on_sigterm
from .soak_outcome import Outcome, Samples, draw

CONCURRENCY = 500
POOL_MAX_SIZE = 20  # settings.py's default DATABASE_POOL_SIZE
# The cluster's task worker: one thread, with a pool of its own size.
WORKER_CONNECTIONS = int(WORKER_ENV["DATABASE_POOL_SIZE"])
LIKED_POSTS = (1, 2, 3)
# One of each in turn: waiting, fanning out, reading, writing.
MIX = [
    ("say-after", "GET", "/api/say-after?delay=1&word=soak"),
    ("fan-out", "GET", "/aggregator/bounded/?n=5&delay=0.5"),
    ("blog page", "GET", "/blog/"),
    ("api read", "GET", "/api/blog/2"),
    ("like", "POST", "/api/blog/{post}/like"),
]


def sample_forever(cluster, samples, stop, began):
    while not stop.wait(1):
        row = [round(time.monotonic() - began, 1)]
        for app in cluster.apps.values():
            rss, threads = group_usage(app.process.pid)
            row += [round(rss, 1), threads]
        row.append(cluster.postgres.connections())
        samples.rows.append(row)


async def load(url, seconds, progress):
    """Keep CONCURRENCY requests in flight for `seconds`; count what happened."""
    sent, failed, reasons = dict.fromkeys([k for k, _, _ in MIX], 0), {}, {}
    likes_ok = dict.fromkeys(LIKED_POSTS, 0)
    turn = itertools.count()
    end = time.monotonic() + seconds
    limits = httpx2.Limits(max_connections=CONCURRENCY)

    async def one_client(client):
        while time.monotonic() < end:
            n = next(turn)
            kind, method, path = MIX[n % len(MIX)]
            post = LIKED_POSTS[n % len(LIKED_POSTS)]
            sent[kind] += 1
            try:
                response = await client.request(
                    method, path.format(post=post), headers=CSRF
                )
                reason = response.status_code
            except httpx2.HTTPError as exc:
                reason = type(exc).__name__
            ok = reason == 200
            if not ok:
                failed[kind] = failed.get(kind, 0) + 1
                reasons[reason] = reasons.get(reason, 0) + 1
            elif kind == "like":
                likes_ok[post] += 1

    async def report_progress():
        began = time.monotonic()
        while True:
            await asyncio.sleep(10)
            done = sum(sent.values())
            progress(
                f"  {time.monotonic() - began:4.0f} s: {done} requests,"
                f" {sum(failed.values())} failed"
            )

    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        reporter = asyncio.create_task(report_progress())
        await asyncio.gather(*(one_client(client) for _ in range(CONCURRENCY)))
        reporter.cancel()
    return sent, failed, reasons, likes_ok


def likes_now(url):
    return {
        post: httpx2.get(f"{url}/api/blog/{post}", timeout=10).json()["likes"]
        for post in LIKED_POSTS
    }


def soak(cluster, seconds, progress=print):
    """Run the soak against a running cluster; return its Outcome."""
    warm_up = min(30.0, seconds / 3)
    before = likes_now(cluster.url)
    samples = Samples(apps=list(cluster.apps))
    stop = threading.Event()
    began = time.monotonic()
    sampler = threading.Thread(
        target=sample_forever, args=(cluster, samples, stop, began), daemon=True
    )
    sampler.start()
    try:
        sent, failed, reasons, likes_ok = asyncio.run(
            load(cluster.url, seconds, progress)
        )
    finally:
        stop.set()
        sampler.join()
    after = likes_now(cluster.url)
    workers = sum(app.workers for app in cluster.apps.values())
    return Outcome(
        seconds=time.monotonic() - began,
        sent=sent,
        failed=failed,
        reasons=reasons,
        likes_ok=likes_ok,
        likes_counted={post: after[post] - before[post] for post in LIKED_POSTS},
        samples=samples,
        concurrency=CONCURRENCY,
        pool_limit=workers * POOL_MAX_SIZE + WORKER_CONNECTIONS,
        warm_up=warm_up,
    )


def main():
    stop_on_sigterm()
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 300
    print(f"Starting the cluster, then {seconds:.0f} s of load…", flush=True)
    with running_cluster() as cluster:
        outcome = soak(cluster, seconds, progress=lambda line: print(line, flush=True))
    print(outcome.summary())
    figures = BASE_DIR / "docs" / "figures"
    (figures / "soak.txt").write_text(outcome.summary() + "\n")
    draw(outcome, figures / "soak.png")
    print("Saved: docs/figures/soak.txt, docs/figures/soak.png")
    sys.exit(0 if outcome.passed else 1)


if __name__ == "__main__":
    main()
