"""The blog's figures for `make figures` (bench/figures.py runs them): the
ORM's pitfalls, persistent connections against the pool, and the async
login, each against real server and database processes."""

import os
import tempfile
from pathlib import Path

import httpx2

from harness.servers import serve

from . import load


def orm_pitfalls():
    """Three 0.5 s queries gathered in one async view, against three requests
    of one such query sent at once, and three sent to threads of their own in
    one view, on one uvicorn worker: on SQLite (the
    project's file) and on a PostgreSQL of its own, migrated and seeded; then
    a post served with its author left lazy, and with select_related."""

    from deploy.cluster import prepare_database
    from deploy.services import own_postgres

    lines = []
    with own_postgres() as postgres:
        for name, env in [
            ("SQLite", {}),
            ("PostgreSQL", {"DATABASE_URL": postgres.url}),
        ]:
            if env:
                prepare_database(env)
            with serve("uvicorn", "--no-access-log", env=env) as url:
                lines += gathered_against_separate(name, url)
                lines += lazy_relation(name, url)
    return lines


def gathered_against_separate(name, url):
    pitfalls = f"{url}/blog/pitfalls"
    httpx2.get(f"{pitfalls}/one-query/?seconds=0", timeout=10)
    gathered = httpx2.get(f"{pitfalls}/gathered-queries/?seconds=0.5", timeout=10)
    body = gathered.json()
    outcome = load.run(f"{pitfalls}/one-query/?seconds=0.5", concurrency=3, requests=3)
    apart = httpx2.get(f"{pitfalls}/queries-apart/?seconds=0.5", timeout=10).json()
    return [
        f"{name}: 3 queries gathered in one view: elapsed {body['elapsed']:.2f} s,"
        f" on {len(body['threads'])} thread",
        f"{name}: 3 requests of one query, at once: all answered after"
        f" {outcome.elapsed:.2f} s, {outcome.failed} failed",
        f"{name}: 3 queries on threads of their own in one view: elapsed"
        f" {apart['elapsed']:.2f} s, on {len(apart['threads'])} threads",
    ]


def lazy_relation(name, url):
    lazy = httpx2.get(f"{url}/api/blog/pitfalls/lazy-author/1", timeout=10).json()
    fixed = httpx2.get(f"{url}/api/blog/1", timeout=10)
    return [
        f"{name}: the author left lazy: {lazy['field']} raised {lazy['raised'][:60]}",
        f"{name}: with select_related: HTTP {fixed.status_code},"
        f" author {fixed.json()['author']!r}",
    ]


def connections():
    """200 concurrent queries on one uvicorn worker (0.2 s each with the
    pool, 1 s without, so that all 200 overlap), on a PostgreSQL of
    its own (max_connections 100): with the pool, as this project runs; and
    with CONN_MAX_AGE=60 and no pool, on the lean path and on Django as
    shipped. The answers, and pg_stat_activity's count of the app's
    connections at the peak and 2 s after."""
    from deploy.cluster import prepare_database
    from deploy.services import own_postgres
    from harness.connections import NO_POOL_SECONDS, burst

    lines = []
    with own_postgres() as postgres:
        prepare_database({"DATABASE_URL": postgres.url})
        no_pool = "harness.no_pool_settings"
        for label, env in [
            ("the pool (this project)", {}),
            ("CONN_MAX_AGE=60, no pool, lean", {"DJANGO_SETTINGS_MODULE": no_pool}),
            (
                "CONN_MAX_AGE=60, no pool, Django as shipped",
                {"DJANGO_SETTINGS_MODULE": no_pool, "DJANGO_STOCK": "1"},
            ),
        ]:
            # The thread cap raised past the burst, as in tests/test_connections.py.
            env = {"DATABASE_URL": postgres.url, "REQUEST_THREADS": "250", **env}
            seconds = 0.2 if label.startswith("the pool") else NO_POOL_SECONDS
            statuses, peak, after = burst(postgres, env, seconds=seconds)
            answered = {code: statuses.count(code) for code in sorted(set(statuses))}
            lines.append(
                f"{label}: answers {answered}; connections at the peak {peak},"
                f" 2 s after {after}"
            )
    return lines


def accounts():
    """The async login on one uvicorn worker, on a SQLite file of its own
    with the blog's posts and one author who can log in (Barbara, whose are
    the drafts): each answer on the
    way from an anonymous visitor to the author's drafts."""
    import secrets

    from deploy.cluster import prepare_database
    from harness.background import create_barbara

    lines = []
    with tempfile.TemporaryDirectory() as directory:
        env = {"DATABASE_URL": f"sqlite:///{directory}/db.sqlite3"}
        prepare_database(env)
        password = secrets.token_urlsafe(16)
        create_barbara(env, password)
        with serve("uvicorn", env=env) as url, httpx2.Client(base_url=url) as client:
            login = {"username": "Barbara", "password": "wrong"}
            steps = [("anonymous GET /blog/drafts/", client.get("/blog/drafts/"))]
            steps.append(
                ("anonymous GET /api/blog/drafts", client.get("/api/blog/drafts"))
            )
            steps.append(
                (
                    "login without the CSRF token",
                    client.post("/blog/login/", data=login),
                )
            )
            client.get("/blog/login/")
            login["csrfmiddlewaretoken"] = client.cookies["csrftoken"]
            steps.append(("a wrong password", client.post("/blog/login/", data=login)))
            login["password"] = password
            steps.append(("the right one", client.post("/blog/login/", data=login)))
            for label, answer in steps:
                where = answer.headers.get("location", "")
                lines.append(f"{label}: HTTP {answer.status_code} {where}".rstrip())
            drafts = client.get("/api/blog/drafts").json()
            lines.append(f"logged in, GET /api/blog/drafts: {len(drafts)} drafts")
            raised = client.get("/blog/pitfalls/request-user/").json()["raised"]
            lines.append(f"logged in, request.user in async code: {raised[:60]}")
            whoami = client.get("/blog/whoami/").json()
            lines.append(f"logged in, await request.auser(): {whoami}")
    return lines


def background():
    """Background work on one uvicorn worker and SQLite files of their own:
    a task enqueued through the tasks framework, then the server killed -9;
    the same work in asyncio.create_task, then the same kill; and a worker
    killed -9 in the middle of a 5 s task."""
    import signal
    import time

    from harness import background as bg
    from harness.servers import serve_process

    def killed(process):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    lines = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "enqueued.sqlite3"
        env = bg.spoiled_database(path)
        with serve_process("uvicorn", env=env) as (url, process):
            answer = httpx2.post(f"{url}/api/blog/5/recount")
            killed(process)
        before = [status for status, _ in bg.task_rows(path)]
        bg.worker(env, "--batch").wait(timeout=60)
        after = [status for status, _ in bg.task_rows(path)]
        lines.append(
            f"enqueued, then kill -9: HTTP {answer.status_code}; tasks {before};"
            f" after a worker ran: {after}, recount {bg.published_count(path)}"
        )

        path = Path(directory) / "fired.sqlite3"
        env = bg.spoiled_database(path)
        with serve_process("uvicorn", env=env) as (url, process):
            answer = httpx2.post(f"{url}/api/blog/pitfalls/fire-and-forget/5")
            killed(process)
        time.sleep(2.5)
        lines.append(
            f"asyncio.create_task, then kill -9: HTTP {answer.status_code};"
            f" 2.5 s later the count is still {bg.published_count(path)},"
            f" {len(bg.task_rows(path))} tasks recorded"
        )

        path = Path(directory) / "mid-task.sqlite3"
        env = bg.spoiled_database(path)
        bg.enqueue_slow_task(env, pause=5)
        first = bg.worker(env, start_new_session=True)
        deadline = time.monotonic() + 20
        while [s for s, _ in bg.task_rows(path)] != ["RUNNING"]:
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not start the task")
            time.sleep(0.1)
        killed(first)
        bg.worker(env, "--batch").wait(timeout=60)
        lines.append(
            f"worker killed -9 mid-task, then another worker: tasks"
            f" {[status for status, _ in bg.task_rows(path)]}"
        )
    return lines


def testing():
    """tests/test_testing.py run on SQLite (an in-memory test database) and on
    a PostgreSQL of its own: what a pitfalls view answered inside each kind of
    test, and the module's result."""
    import subprocess
    import sys

    from deploy.services import own_postgres
    from harness.servers import BASE_DIR

    lines = []
    with own_postgres() as postgres:
        for name, url in [("SQLite", None), ("PostgreSQL", postgres.url)]:
            env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
            if url:
                env["DATABASE_URL"] = url
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "tests/test_testing.py", "-s", "-q"],
                cwd=BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
            )
            out = run.stdout.splitlines()
            figure = [line for line in out if line.startswith("FIGURE ")]
            lines += [f"{name}: {line.removeprefix('FIGURE ')}" for line in figure]
            lines.append(f"{name}: {out[-1].strip('= ')}")  # "9 passed in ..."
    return lines
