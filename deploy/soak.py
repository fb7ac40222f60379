"""make soak: minutes of mixed load through nginx, watching for slow leaks.

`python -m deploy.soak [seconds]` starts the cluster of deploy/cluster.py and
keeps CONCURRENCY requests in flight through nginx: say-afters, async
fan-outs, blog pages and API reads, and likes. Every second it samples each app
server's resident memory and threads (its whole process group) and the number
of PostgreSQL connections; every 10 s it prints a progress line. At the end it
prints a summary with the slope of each series, checks the pass criteria and
draws docs/figures/soak.png.

Pass criteria: no failed request; the likes counted exactly; resident memory
after the warm-up growing less than 10%; PostgreSQL connections never above the
app servers' pools combined, and the task worker's 2. tests/test_cluster.py runs a 30 s version.
"""

import asyncio
import itertools
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx2

from bench.sampler import group_usage
from tests.support.servers import BASE_DIR

from .cluster import WORKER_ENV, running_cluster, stop_on_sigterm

CONCURRENCY = 500
POOL_MAX_SIZE = 20  # settings.py's default DATABASE_POOL_SIZE
# The cluster's task worker: one thread, with a pool of its own size.
WORKER_CONNECTIONS = int(WORKER_ENV["DATABASE_POOL_SIZE"])
LIKED_POSTS = (1, 2, 3)
# One of each in turn: waiting, fanning out, reading, writing.
MIX = [
    ("say-after", "GET", "/api/say-after?delay=1&word=soak"),
    ("fan-out", "GET", "/aggregator/async/?n=5&delay=0.5"),
    ("blog page", "GET", "/blog/"),
    ("api read", "GET", "/api/blog/2"),
    ("like", "POST", "/api/blog/{post}/like"),
]


@dataclass
class Samples:
    """One row per second: seconds since start, then per app (MiB, threads),
    then PostgreSQL connections."""

    apps: list
    rows: list = field(default_factory=list)


@dataclass
class Outcome:
    seconds: float
    sent: dict
    failed: dict
    reasons: dict  # why the failed ones failed: a status code or an exception
    likes_ok: dict
    likes_counted: dict
    samples: Samples
    pool_limit: int
    warm_up: float

    @property
    def failures(self):
        return sum(self.failed.values())

    def series(self):
        """{name: [(t, value), ...]} for each app's RSS and threads and PostgreSQL."""
        series = {}
        for i, app in enumerate(self.samples.apps):
            series[f"{app} MiB"] = [
                (row[0], row[1 + 2 * i]) for row in self.samples.rows
            ]
            series[f"{app} threads"] = [
                (row[0], row[2 + 2 * i]) for row in self.samples.rows
            ]
        series["PostgreSQL connections"] = [
            (row[0], row[-1]) for row in self.samples.rows
        ]
        return series

    def rss_growth(self, app):
        """Resident memory growth from the end of the warm-up to the end, as a
        fraction: the mean of the last 10 s over the mean of the 10 s after
        the warm-up."""
        points = self.series()[f"{app} MiB"]
        after = [v for t, v in points if self.warm_up <= t < self.warm_up + 10]
        last = [v for t, v in points if t >= self.seconds - 10]
        if not after or not last or not min(after):
            return float("inf")  # no sample, or the server was down
        return statistics.mean(last) / statistics.mean(after) - 1

    def checks(self):
        """(criterion, passed, detail) for each pass criterion."""
        likes_exact = self.likes_ok == self.likes_counted
        peak_connections = max(row[-1] for row in self.samples.rows)
        growth = {app: self.rss_growth(app) for app in self.samples.apps}
        return [
            (
                "no failed request",
                self.failures == 0,
                f"{self.failures} failed"
                + (f": {self.reasons}" if self.reasons else ""),
            ),
            (
                "likes counted exactly",
                likes_exact,
                f"200 answers {self.likes_ok}, counted {self.likes_counted}",
            ),
            (
                "RSS growth after warm-up under 10%",
                all(g < 0.10 for g in growth.values()),
                ", ".join(f"{app} {g:+.1%}" for app, g in growth.items()),
            ),
            (
                "PostgreSQL connections within the pools",
                peak_connections <= self.pool_limit,
                f"peak {peak_connections}, pools {self.pool_limit}",
            ),
        ]

    @property
    def passed(self):
        return all(ok for _, ok, _ in self.checks())

    def summary(self):
        total = sum(self.sent.values())
        lines = [
            f"Soak: {self.seconds:.0f} s at {CONCURRENCY} concurrent requests through"
            f" nginx, {total} requests ({total / self.seconds:.0f}/s)",
        ]
        for kind, sent in self.sent.items():
            lines.append(
                f"  {kind:10} {sent:7} sent, {self.failed.get(kind, 0)} failed"
            )
        lines.append(f"Samples every second after a {self.warm_up:.0f} s warm-up:")
        for name, points in self.series().items():
            kept = [(t, v) for t, v in points if t >= self.warm_up]
            values = [v for _, v in kept]
            lines.append(
                f"  {name:24} start {values[0]:7.1f}  end {values[-1]:7.1f}"
                f"  max {max(values):7.1f}  slope {slope(kept) * 60:+7.2f}/min"
            )
        for criterion, ok, detail in self.checks():
            lines.append(f"{'PASS' if ok else 'FAIL'}: {criterion} ({detail})")
        return "\n".join(lines)


def slope(points):
    """Least-squares slope of (t, value) points, per second."""
    if len(points) < 2:
        return 0.0
    return statistics.linear_regression(*zip(*points, strict=True)).slope


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
                response = await client.request(method, path.format(post=post))
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
        pool_limit=workers * POOL_MAX_SIZE + WORKER_CONNECTIONS,
        warm_up=warm_up,
    )


def draw(outcome, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = outcome.series()
    figure, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for (title, suffix), ax in zip(
        [("Resident memory (MiB)", " MiB"), ("Threads", " threads")], axes, strict=False
    ):
        for app in outcome.samples.apps:
            points = series[app + suffix]
            ax.plot([t for t, _ in points], [v for _, v in points], label=app)
        ax.set_title(title)
        ax.legend(loc="lower right")
    points = series["PostgreSQL connections"]
    axes[2].plot([t for t, _ in points], [v for _, v in points], color="tab:green")
    axes[2].axhline(outcome.pool_limit, color="tab:red", linestyle="--", label="pools")
    axes[2].set_title("PostgreSQL connections")
    axes[2].legend(loc="lower right")
    axes[2].set_xlabel("seconds")
    for ax in axes:
        ax.axvline(outcome.warm_up, color="grey", linestyle=":")
        ax.set_ylim(bottom=0)
    figure.suptitle(
        f"Soak: {outcome.seconds:.0f} s at {CONCURRENCY} concurrent, through nginx"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


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
