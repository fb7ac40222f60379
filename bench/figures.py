"""`make figures`: every figure the README quotes outside the benchmark.

Each section starts the server the README names, as a real process on a
free loopback port, measures what the README says, and writes its raw output
to docs/figures/<name>.txt (printed too). The benchmark's own figures are in
docs/bench/ (`make bench`); the storm's and the anatomy's in docs/figures/
(`make storm`, `make bench ARGS=--anatomy`).
"""

import argparse
import datetime
import functools
import os
import platform
import re
import sys
from importlib.metadata import version
from pathlib import Path

from harness.servers import BASE_DIR, PRODUCTION_ENV, serve

from . import load
from .db_bound_figures import db_bound
from .fan_out_figures import aggregator, quote, wsgi_fan_out
from .orm_figures import accounts, background, connections, orm_pitfalls, testing
from .pitfall_figures import cpu_bound, fail_fast, naive_fan_out, pitfalls

OUT = BASE_DIR / "docs" / "figures"
# As a reader first runs it: DEBUG on, its access log printing.
DEVELOPMENT = dict.fromkeys(PRODUCTION_ENV)


def flood():
    """The guide's flood on one uvicorn worker in development settings, and
    five 1 s requests on one gunicorn worker with one thread."""
    lines = []
    with serve("uvicorn", env=DEVELOPMENT) as url:
        for path in ("/api/say-after", "/api/say-sync"):
            load.run(f"{url}{path}?delay=0&word=hello", concurrency=1, requests=1)
            result = load.latencies(f"{url}{path}?delay=3&word=hello", 100, 100)
            lines.append(f"uvicorn, DEBUG on: 100 x {path}?delay=3: {result}")
    with serve("gunicorn", "--workers", "1", "--threads", "1") as url:
        result = load.latencies(f"{url}/api/say-sync?delay=1&word=hi", 5, 5)
        lines.append(f"gunicorn 1 x 1: 5 x /api/say-sync?delay=1: {result}")
    return lines


def blog_reads():
    """Reads of the blog, 100 at a time, 2000 in all, on one uvicorn worker
    without its access log, on this database."""
    lines = []
    with serve("uvicorn", "--no-access-log") as url:
        for path in ("/api/blog/1", "/blog/?page=2", "/blog/1/"):
            load.run(url + path, concurrency=1, requests=5)
            outcome = load.run(url + path, concurrency=100, requests=2000)
            rate = len(outcome.latencies) / outcome.elapsed
            lines.append(f"{path}: {rate:.0f} requests/s, {outcome.failed} failed")
    return lines


def redis_cache():
    """Reading one key from Redis in an async view, on one uvicorn worker: Django's
    cache API (cache.aget, the sync client in a thread) against redis.asyncio on
    the event loop; 2000 reads, one at a time and then 100 at a time, and the
    server's peak threads."""
    from deploy.services import Redis
    from harness.sampler import PeakSampler
    from harness.servers import serve_process

    redis = Redis()
    redis.start()
    lines = []
    try:
        env = {
            "DJANGO_SETTINGS_MODULE": "bench.redis_probe_settings",
            "REDIS_URL": redis.url,
        }
        with serve_process("uvicorn", "--no-access-log", env=env) as (url, process):
            for path in ("/redis/django-cache", "/redis/asyncio"):
                load.run(url + path, concurrency=1, requests=50)
                one = load.run(url + path, concurrency=1, requests=2000)
                with PeakSampler(process.pid) as peak:
                    many = load.run(url + path, concurrency=100, requests=2000)
                median = sorted(one.latencies)[len(one.latencies) // 2] * 1000
                lines.append(
                    f"{path}: one at a time {median:.2f} ms median,"
                    f" {len(one.latencies) / one.elapsed:.0f} requests/s;"
                    f" 100 at a time {len(many.latencies) / many.elapsed:.0f} requests/s,"
                    f" peak {peak.threads} threads, {one.failed + many.failed} failed"
                )
    finally:
        redis.stop()
    return lines


def through_nginx():
    """1000 concurrent 2 s say-afters through the cluster's nginx (two app
    servers of two UvicornWorkers each, as `make cluster` runs them): a
    first burst of 1000 (after 100 requests to warm up), then three more; then 500 straight to one app
    server, its share, to show what nginx adds. Target: the slowest at most
    2,400 ms (x1.20)."""
    import resource

    from deploy.cluster import running_cluster

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    say = "/api/say-after?delay=2&word=nginx"
    lines = []
    with running_cluster(workers=2) as cluster:
        load.run(cluster.url + say, concurrency=100, requests=100)
        for round_ in ("first", "second", "third", "fourth"):
            result = load.latencies(cluster.url + say, 1000, 1000)
            lines.append(f"through nginx, {round_} burst: 1000 x 2 s: {result}")
        app1 = cluster.apps["app1"].url
        result = load.latencies(app1 + say, 500, 500)
        lines.append(f"straight to app1: 500 x 2 s: {result}")
    return lines


def database():
    url = os.environ.get("DATABASE_URL", "")
    return "postgresql" if url.startswith("postgres") else "sqlite"


BOUNDS_TESTS = [
    "tests/test_bounds.py",
    "tests/test_production.py",
    "-k",
    "not check_deploy",
]


def bounds(before=None):
    """tests/test_bounds.py and tests/test_production.py against uvicorn with
    production settings: the thread cap and Django's lack of one, a login
    storm, queries-apart beside a live page, a burst of recounts, and what an
    anonymous attacker gets (issue 24's attacks). With --before REV, the same
    tests against that commit's site (their asserts may fail there; what they
    measured is printed first)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        tree, env = BASE_DIR, dict(os.environ)
        if before:
            tree = Path(folder) / "tree"
            git = ["git", "-C", str(BASE_DIR)]
            subprocess.run(
                [*git, "worktree", "add", "-q", "--detach", tree, before], check=True
            )
            # This commit's tests and harness, that commit's site and leanasgi.
            for path in ["harness", *BOUNDS_TESTS[:2]]:
                subprocess.run(
                    ["cp", "-r", BASE_DIR / path, tree / Path(path).parent], check=True
                )
            env["PYTHONPATH"] = f"{tree / 'leanasgi' / 'src'}:{tree}"
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0"],
                cwd=tree,
                env=env,
                check=True,
            )
            subprocess.run(
                [sys.executable, "manage.py", "seed_blog", "-v0"],
                cwd=tree,
                env=env,
                check=True,
            )
        try:
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    *BOUNDS_TESTS,
                    "-s",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                ],
                cwd=tree,
                env=env,
                capture_output=True,
                text=True,
            )
        finally:
            if before:
                subprocess.run(
                    [*git, "worktree", "remove", "--force", tree], check=False
                )
    out = run.stdout.splitlines()
    # pytest's progress marks may stand before a line a test printed.
    printed = (re.match(r"[.FEsx]*FIGURE (.*)", line) for line in out)
    figure = [match.group(1) for match in printed if match]
    return [*figure, out[-1].strip("= ")]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.figures", description=__doc__
    )
    parser.add_argument(
        "--only",
        help="one section: flood, aggregator, quote, naive-fan-out, fail-fast, pitfalls,"
        " orm-pitfalls, connections, accounts, background, testing, bounds,"
        " wsgi-fan-out, blog-reads, redis-cache, through-nginx, db-bound, cpu-bound",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="default: docs/figures")
    parser.add_argument(
        "--before",
        metavar="REV",
        help="with --only bounds: measure that commit's site, into bounds-before.txt",
    )
    args = parser.parse_args(argv)
    only, out = args.only, args.out
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    header = (
        f"# {now}, Python {platform.python_version()}, Django {version('django')},"
        f" uvicorn {version('uvicorn')}, gunicorn {version('gunicorn')},"
        f" {os.cpu_count()} CPUs; written by"
    )
    sections = [
        ("flood", flood),
        ("aggregator", aggregator),
        ("quote", quote),
        ("naive-fan-out", naive_fan_out),
        ("fail-fast", fail_fast),
        ("pitfalls", pitfalls),
        ("orm-pitfalls", orm_pitfalls),
        ("connections", connections),
        ("accounts", accounts),
        ("background", background),
        ("testing", testing),
        ("bounds", bounds),
        ("wsgi-fan-out", wsgi_fan_out),
        (f"blog-reads-{database()}", blog_reads),
        ("redis-cache", redis_cache),
        ("through-nginx", through_nginx),
        ("db-bound", db_bound),
        ("cpu-bound", cpu_bound),
    ]
    out.mkdir(parents=True, exist_ok=True)
    if args.before:
        sections = [("bounds-before", functools.partial(bounds, args.before))]
    for name, measure in sections:
        if only and not name.startswith(only):
            continue
        about = " ".join(getattr(measure, "func", measure).__doc__.split())
        command = f'make figures ARGS="--only {name}"'
        if args.before:
            command = f'make figures ARGS="--only bounds --before {args.before}"'
        text = "\n".join([f"{header} `{command}`", f"# {about}", *measure()])
        (out / f"{name}.txt").write_text(text + "\n")
        print(f"== {out / name}.txt\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
