"""Work done after the response, by a worker process: Django's tasks
framework (django.tasks) with a database backend (django-tasks-db).

A task enqueued is a row in the database before the view answers, so a
worker runs it even if the server dies the next instant. Run one with
`python manage.py db_worker` (make run starts it beside the server).

Two bounds keep the table small: at most MAX_WAITING tasks wait at once
(checked and enqueued under one lock, so a burst cannot pass it), and the
worker deletes finished rows older than KEEP_FINISHED as it goes.
"""

import logging
import time
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.tasks import task
from django.tasks.signals import task_finished
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from .models import Author

logger = logging.getLogger(__name__)

MAX_PAUSE = 5  # seconds a task may wait first: slow work, for the tests
MAX_WAITING = 100  # tasks waiting for a worker before the API says 429
KEEP_FINISHED = timedelta(hours=1)  # how long GET /api/blog/tasks/<id> still knows one
PRUNE_EVERY = 60  # seconds between the worker's prunes
# Any constant that is this project's: PostgreSQL's lock on the waiting count.
WAITING_LOCK = 0x626C6F67


@task
def recount_author(author_id, pause=0):
    """Count the author's published posts again; the count, as its result."""
    time.sleep(min(max(pause, 0), MAX_PAUSE))
    author = Author.objects.get(pk=author_id)
    author.published_count = author.posts.filter(published__isnull=False).count()
    author.save(update_fields=["published_count"])
    return author.published_count


@transaction.atomic
def enqueue_recount(author_id):
    """Enqueue recount_author unless MAX_WAITING tasks wait already; the
    result, or None. Counting and enqueueing hold one lock, so a burst of
    300 at once enqueues at most MAX_WAITING: SQLite's IMMEDIATE transaction
    takes the database's write lock, PostgreSQL takes an advisory lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WAITING_LOCK])
    if DBTaskResult.objects.ready().count() >= MAX_WAITING:
        return None
    return recount_author.enqueue(author_id)


def prune_finished(now=None):
    """Delete the rows of tasks that finished more than KEEP_FINISHED ago;
    how many. (`manage.py prune_db_task_results` does the same by days.)"""
    cutoff = (now or timezone.now()) - KEEP_FINISHED
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted


_last_prune = 0.0


def prune_as_the_worker_goes(sender, **kwargs):
    """task_finished's receiver, in the worker: prune, once a PRUNE_EVERY."""
    global _last_prune
    if time.monotonic() - _last_prune >= PRUNE_EVERY:
        _last_prune = time.monotonic()
        try:
            prune_finished()
        except DatabaseError:
            # Not the finished task's failure: the worker would record it as one.
            logger.warning("task results: the prune failed; next time, then")


task_finished.connect(prune_as_the_worker_goes, dispatch_uid="blog.prune_finished")
