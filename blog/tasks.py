"""Work done after the response, by a worker process: Django's tasks
framework (django.tasks) with a database backend (django-tasks-db).

A task enqueued is a row in the database before the view answers, so a
worker runs it even if the server dies the next instant. Run one with
`python manage.py db_worker` (make run starts it beside the server).
"""

import time

from django.tasks import task

from .models import Author

MAX_PAUSE = 5  # seconds a task may wait first: slow work, for the tests
MAX_WAITING = 100  # tasks waiting for a worker before the API says 429


@task
def recount_author(author_id, pause=0):
    """Count the author's published posts again; the count, as its result."""
    time.sleep(min(max(pause, 0), MAX_PAUSE))
    author = Author.objects.get(pk=author_id)
    author.published_count = author.posts.filter(published__isnull=False).count()
    author.save(update_fields=["published_count"])
    return author.published_count
