"""The task table stays small: at most MAX_WAITING tasks wait, however many
ask at once, and finished rows older than KEEP_FINISHED go when the worker
finishes a task (blog/tasks.py)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from unittest import skipUnless

from django.db import connection
from django.tasks.signals import task_finished
from django.test import TestCase, TransactionTestCase
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from blog import tasks
from blog.models import Author


def row(status, finished_ago=None):
    finished = timezone.now() - finished_ago if finished_ago else None
    return DBTaskResult.objects.create(
        status=status,
        finished_at=finished,
        args_kwargs={"args": [1], "kwargs": {}},
        task_path="blog.tasks.recount_author",
        backend_name="default",
        run_after=timezone.now(),
    )


class PruneTests(TestCase):
    def test_the_worker_prunes_old_finished_rows(self):
        """A finished task's signal deletes the successful and failed rows
        finished over an hour ago, and keeps recent and waiting ones."""
        old = [row("SUCCESSFUL", timedelta(hours=2)), row("FAILED", timedelta(hours=3))]
        kept = [row("SUCCESSFUL", timedelta(minutes=10)), row("READY")]
        tasks._last_prune = float("-inf")
        task_finished.send(sender=None, task_result=kept[0].task_result)
        left = set(DBTaskResult.objects.values_list("pk", flat=True))
        self.assertEqual(left, {r.pk for r in kept})
        self.assertFalse(left & {r.pk for r in old})

    def test_it_prunes_at_most_once_a_minute(self):
        """A second signal within PRUNE_EVERY leaves an old row alone."""
        tasks._last_prune = float("-inf")
        done = row("SUCCESSFUL", timedelta(minutes=1)).task_result
        task_finished.send(sender=None, task_result=done)
        old = row("SUCCESSFUL", timedelta(hours=2))
        task_finished.send(sender=None, task_result=done)
        self.assertTrue(DBTaskResult.objects.filter(pk=old.pk).exists())


@skipUnless(connection.vendor == "postgresql", "SQLite's test database is in memory")
class WaitingBoundTests(TransactionTestCase):
    """PostgreSQL's advisory lock holds the waiting bound under real
    concurrency (SQLite's write lock: tests/test_bounds.py, on a file)."""

    def test_twenty_threads_at_once_enqueue_exactly_the_bound(self):
        """300 enqueue_recount calls from 20 threads, each on its own
        connection, enqueue exactly MAX_WAITING tasks; the rest get None."""
        author = Author.objects.create(name="counted")
        start = threading.Barrier(20)

        def enqueue_fifteen():
            start.wait()
            try:
                return [tasks.enqueue_recount(author.pk) for _ in range(15)]
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = [
                r
                for batch in pool.map(lambda _: enqueue_fifteen(), range(20))
                for r in batch
            ]
        self.assertEqual(len(results), 300)
        self.assertEqual(sum(r is not None for r in results), tasks.MAX_WAITING)
        self.assertEqual(DBTaskResult.objects.ready().count(), tasks.MAX_WAITING)
