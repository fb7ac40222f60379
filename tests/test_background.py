"""Background work against real processes: a task enqueued through Django's
tasks framework outlives a kill -9 of the server and runs once, where
asyncio.create_task's does not; and what a worker killed mid-task leaves
(blog/tasks.py, docs/orm.md). Each test has a SQLite file of its own."""

import json
import os
import signal
import time

import pytest

from harness.background import (
    SPOILED,
    as_barbara,
    enqueue_slow_task,
    published_count,
    run_in_shell,
    spoiled_database,
    task_rows,
    worker,
)
from harness.servers import output, serve_process

pytestmark = pytest.mark.slow  # each test starts real processes


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "db.sqlite3"
    return path, spoiled_database(path)


def killed(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_an_enqueued_task_outlives_a_kill_9_and_runs_once(database):
    """The server is killed -9 the instant it answers 202: the task is already
    a READY row, and a worker started afterwards runs it, once, however many
    times a worker runs."""
    path, env = database
    with serve_process("uvicorn", env=env) as (url, process):
        answer = as_barbara(url).post("/api/blog/5/recount")
        killed(process)
    assert answer.status_code == 202
    assert [status for status, _ in task_rows(path)] == ["READY"]
    for _ in range(2):
        assert worker(env, "--batch").wait(timeout=60) == 0
    [(status, worker_ids)] = task_rows(path)
    assert status == "SUCCESSFUL"
    assert len(json.loads(worker_ids)) == 1
    assert published_count(path) == 0  # Barbara's posts are all drafts


def test_create_task_dies_with_the_process(database):
    """The fire-and-forget version answers 202 as quickly, but its work lives
    in the server's memory: killed -9 within its 2 s, nothing ever runs it."""
    path, env = database
    with serve_process("uvicorn", env=env) as (url, process):
        answer = as_barbara(url).post("/api/blog/pitfalls/fire-and-forget/5")
        killed(process)
    assert answer.status_code == 202
    time.sleep(2.5)
    assert published_count(path) == SPOILED
    assert task_rows(path) == []


@pytest.mark.parametrize("stock", ["1", "0"], ids=["django", "lean"])
def test_left_alone_it_runs_while_the_process_lives(database, stock):
    """The control: left alone, the create_task version does its work after
    its 2 s and not before, on Django's own handler and on the lean one,
    and logs no failure."""
    path, env = database
    env = {**env, "DJANGO_STOCK": stock}
    with serve_process("uvicorn", env=env) as (url, process):
        sent = time.monotonic()
        fired = as_barbara(url).post("/api/blog/pitfalls/fire-and-forget/5")
        assert fired.status_code == 202
        while published_count(path) == SPOILED and time.monotonic() < sent + 5:
            time.sleep(0.05)
        took = time.monotonic() - sent
        log = output(process)
    assert published_count(path) == 0
    assert 2 <= took < 4
    assert "the work was lost" not in log and "Traceback" not in log


def test_a_worker_killed_mid_task_leaves_it_running(database):
    """django-tasks-db 0.13 claims a task by marking it RUNNING, with no
    lease: a worker killed -9 mid-task leaves it RUNNING, and the next worker
    neither runs it again nor marks it failed (docs/orm.md says what to do)."""
    path, env = database
    enqueue_slow_task(env, pause=5)
    first = worker(env, start_new_session=True)
    deadline = time.monotonic() + 20
    while [s for s, _ in task_rows(path)] != [
        "RUNNING"
    ] and time.monotonic() < deadline:
        time.sleep(0.1)
    killed(first)
    assert worker(env, "--batch").wait(timeout=60) == 0
    assert [status for status, _ in task_rows(path)] == ["RUNNING"]
    assert published_count(path) == SPOILED


def test_a_real_worker_prunes_old_finished_rows(database):
    """A row finished two hours ago is deleted by the worker itself when it
    finishes the next task; that task's own row, just finished, stays."""
    path, env = database
    run_in_shell(
        env,
        "from datetime import timedelta; from django.utils import timezone;"
        " from django_tasks_db.models import DBTaskResult;"
        " DBTaskResult.objects.create(status='SUCCESSFUL', backend_name='default',"
        " finished_at=timezone.now() - timedelta(hours=2), run_after=timezone.now(),"
        " task_path='blog.tasks.recount_author', args_kwargs={'args': [], 'kwargs': {}})",
    )
    assert [status for status, _ in task_rows(path)] == ["SUCCESSFUL"]
    enqueue_slow_task(env, pause=0)
    assert worker(env, "--batch").wait(timeout=60) == 0
    assert [status for status, _ in task_rows(path)] == ["SUCCESSFUL"]
