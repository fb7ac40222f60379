"""A task worker as a real process, and the task table read straight from a
SQLite file: for tests/test_background.py and its figure."""

import os
import sqlite3
import subprocess
import sys

import httpx2

from harness.servers import BASE_DIR, PRODUCTION_ENV

DRAFTS_AUTHOR = 5  # Barbara, whose are the seeded drafts (posts 5, 10, ...)
PASSWORD = "barbara's long pass phrase"  # her user's, in every such file
SPOILED = 99  # her count of published posts before a recount; it is 0
WORKER_COMMAND = ["manage.py", "db_worker"]


def prepare_database(env):
    for command in (["migrate", "--noinput"], ["seed_blog"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--verbosity", "0"],
            cwd=BASE_DIR,
            env={**os.environ, **env},
            check=True,
        )


def spoiled_database(path):
    """A migrated, seeded SQLite file at `path`, with Barbara's count of
    published posts spoiled, so that a recount shows; its environment."""
    env = {"DATABASE_URL": f"sqlite:///{path}"}
    prepare_database(env)
    create_barbara(env)
    query(
        path,
        "UPDATE blog_author SET published_count = ? WHERE id = ?",
        SPOILED,
        DRAFTS_AUTHOR,
    )
    return env


def create_barbara(env, password=PASSWORD):
    """Barbara's user, the author of the seeded drafts, in `env`'s database."""
    create_user(env, "Barbara", password)


def create_user(env, username, password):
    """A user in `env`'s database."""
    create_user = (
        "from django.contrib.auth.models import User;"
        f"User.objects.create_user({username!r}, password={password!r})"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", create_user],
        cwd=BASE_DIR,
        env={**os.environ, **PRODUCTION_ENV, **env},
        check=True,
    )


def query(path, sql, *params):
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, params).fetchall()


def published_count(path):
    sql = "SELECT published_count FROM blog_author WHERE id = ?"
    return query(path, sql, DRAFTS_AUTHOR)[0][0]


def task_rows(path):
    """(status, worker ids as JSON) of every task in the file."""
    return query(
        path, "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult"
    )


def as_barbara(url):
    """An httpx2 client logged in as Barbara through the login form, that
    sends the CSRF token this site's pages would."""
    return logged_in(url, "Barbara", PASSWORD)


def logged_in(url, username, password):
    """An httpx2 client logged in as `username` through the login form."""
    client = httpx2.Client(base_url=url, timeout=10)
    client.get("/blog/login/")
    answer = client.post(
        "/blog/login/",
        data={"username": username, "password": password},
        headers={"X-CSRFToken": client.cookies["csrftoken"]},
    )
    assert answer.status_code == 302, answer.text
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]  # a new one
    return client


def worker(env, *args, **kwargs):
    """A `manage.py db_worker` with `args`, started at once."""
    return subprocess.Popen(
        [sys.executable, *WORKER_COMMAND, "--no-startup-delay", *args],
        cwd=BASE_DIR,
        env={**os.environ, **PRODUCTION_ENV, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kwargs,
    )


def run_in_shell(env, code):
    """`code` in `manage.py shell`, with production settings and `env`."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, **PRODUCTION_ENV, **env},
        check=True,
    )


def enqueue_slow_task(env, pause):
    """Enqueue a recount that first waits `pause` seconds, from a shell."""
    run_in_shell(
        env,
        "from blog.tasks import recount_author;"
        f" recount_author.enqueue({DRAFTS_AUTHOR}, pause={pause})",
    )
