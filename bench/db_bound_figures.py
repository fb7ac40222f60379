"""The database-bound pair, side by side: should a view that only reads the
database be async? (docs/orm.md)"""

import statistics

from harness.sampler import PeakSampler
from harness.servers import serve_process

from . import load
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


def db_bound(seconds=5):
    """One post (one row) and a page of ten posts with their authors (one
    query each), each as a sync and an async view, on a PostgreSQL of its
    own through Django's pool (20 a worker): gunicorn WSGI with threads, the
    sync view under uvicorn and the async view under uvicorn, lean and as
    shipped; one worker per CPU each; 10 and then 100 clients for 5 s.
    Requests a second, p50 and p99 in ms, and the server's peak threads."""
    from deploy.services import own_postgres
    from harness.background import prepare_database

    lines = []
    with own_postgres() as postgres:
        env = {"DATABASE_URL": postgres.url}
        prepare_database(env)
        for label, server, extra, more, view in SERVERS:
            # gunicorn logs no access unless asked; uvicorn must be told.
            quiet = ("--no-access-log",) if server == "uvicorn" else ()
            with serve_process(server, *extra, *quiet, env={**env, **more}) as (
                url,
                process,
            ):
                for page, paths in PAGES.items():
                    target = url + paths[view]
                    load.run(target, concurrency=10, requests=200)  # warm the pool
                    for clients in (10, 100):
                        with PeakSampler(process.pid) as peak:
                            outcome = load.run(
                                target, concurrency=clients, duration=seconds
                            )
                        lines.append(row(label, page, clients, outcome, peak.threads))
    return lines


def row(label, page, clients, outcome, threads):
    ordered = sorted(seconds * 1000 for seconds in outcome.latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"{label}, {page}, {clients} clients:"
        f" {len(ordered) / outcome.elapsed:.0f} requests/s,"
        f" p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms,"
        f" peak {threads} threads, {outcome.failed} failed"
    )
