"""The database-bound pair, side by side: should a view that only reads the
database be async? (docs/orm.md)"""

import statistics
from dataclasses import dataclass

from harness.sampler import PeakSampler
from harness.servers import serve_process

from . import load
from .compare import spread
from .plan import CPUS

PER_CPU = ("--workers", str(CPUS))
# (label, server, arguments, environment, which view: async or sync)
SERVERS = [
    (f"gunicorn WSGI, {CPUS} workers x 20 threads, sync view", "gunicorn",
     (*PER_CPU, "--threads", "20"), {}, "sync"),
    (f"uvicorn x{CPUS}, sync view (lean)", "uvicorn", PER_CPU, {}, "sync"),
    (f"uvicorn x{CPUS}, async view (lean)", "uvicorn", PER_CPU, {}, "async"),
    (f"uvicorn x{CPUS}, async view (Django as shipped)", "uvicorn", PER_CPU,
     {"DJANGO_STOCK": "1"}, "async"),
]  # fmt: skip
PAGES = {
    "one row": {"async": "/blog/1/", "sync": "/blog/1/sync/"},
    "ten rows": {"async": "/blog/?page=2", "sync": "/blog/sync/?page=2"},
}


def db_bound(seconds=5, rounds=3):
    """One post (one row) and a page of ten posts with their authors (one
    query each), each as a sync and an async view, on a PostgreSQL of its
    own through Django's pool (20 a worker): gunicorn WSGI with threads, the
    sync view under uvicorn and the async view under uvicorn, lean and as
    shipped; one worker per CPU each; 10 and then 100 clients for 5 s; three
    rounds, each serving the four in turn, each round starting with the next. Requests a second as the median
    (lowest-highest) of the rounds, the medians of p50 and p99 in ms, and the
    server's peak threads in any round; then each round's own figures."""
    from deploy.services import own_postgres
    from harness.background import prepare_database

    runs = {}  # (label, page, clients) -> one Measured a round
    with own_postgres() as postgres:
        env = {"DATABASE_URL": postgres.url}
        prepare_database(env)
        for n in range(rounds):
            # Each round starts one further along, so no setup is always first.
            for label, server, extra, more, view in SERVERS[n:] + SERVERS[:n]:
                one_round(runs, label, server, extra, {**env, **more}, view, seconds)
    summary = [summarised(key, measured) for key, measured in runs.items()]
    each = [
        f"round {n}: {measured.line(*key)}"
        for key, rounds_of in runs.items()
        for n, measured in enumerate(rounds_of, 1)
    ]
    return summary + each


def one_round(runs, label, server, extra, env, view, seconds):
    # gunicorn logs no access unless asked; uvicorn must be told.
    quiet = ("--no-access-log",) if server == "uvicorn" else ()
    with serve_process(server, *extra, *quiet, env=env) as (url, process):
        for page, paths in PAGES.items():
            target = url + paths[view]
            load.run(target, concurrency=10, requests=200)  # warm the pool
            for clients in (10, 100):
                with PeakSampler(process.pid) as peak:
                    outcome = load.run(target, concurrency=clients, duration=seconds)
                measured = Measured.of(outcome, peak.threads)
                runs.setdefault((label, page, clients), []).append(measured)


@dataclass
class Measured:
    rps: float
    p50: float
    p99: float
    threads: int
    failed: int

    @classmethod
    def of(cls, outcome, threads):
        ordered = sorted(seconds * 1000 for seconds in outcome.latencies)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        rps = len(ordered) / outcome.elapsed
        return cls(rps, statistics.median(ordered), p99, threads, outcome.failed)

    def line(self, label, page, clients):
        return (
            f"{label}, {page}, {clients} clients: {self.rps:.0f} requests/s,"
            f" p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms,"
            f" peak {self.threads} threads, {self.failed} failed"
        )


def summarised(key, measured):
    label, page, clients = key
    median = statistics.median
    return (
        f"{label}, {page}, {clients} clients:"
        f" {spread([m.rps for m in measured])} requests/s,"
        f" p50 {median(m.p50 for m in measured):.1f} ms,"
        f" p99 {median(m.p99 for m in measured):.1f} ms,"
        f" peak {max(m.threads for m in measured)} threads,"
        f" {sum(m.failed for m in measured)} failed"
    )
