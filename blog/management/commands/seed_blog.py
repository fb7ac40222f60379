"""Demo data: `python manage.py seed_blog`, run by `make setup`.

Idempotent: posts 1 to 50 and their authors are created or reset to the same
content, so post 1 always exists. Every fifth post is left as a draft for the
publish demo; likes are kept.
"""

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand
from django.core.management.color import no_style
from django.db import connection, transaction

from blog.models import Author, Post

AUTHORS = ["Ada", "Grace", "Linus", "Guido", "Barbara"]
TOPICS = [
    ("asyncio", "The event loop runs one coroutine at a time and switches at await."),
    ("threads", "A thread per request is simple, and costs memory and switches."),
    ("the ORM", "Querysets are lazy; async for and aget run them without blocking."),
    ("httpx2", "One AsyncClient with a connection pool serves many calls at once."),
    ("deadlines", "Every outbound call needs a timeout, and every fan-out a deadline."),
    ("streaming", "A streaming response sends each piece as soon as it is ready."),
    ("transactions", "A transaction is one sync function run through sync_to_async."),
    (
        "middleware",
        "A middleware hook that only sets a header need not leave the loop.",
    ),
    ("PostgreSQL", "Full-text search ranks posts by how well title and body match."),
    ("SQLite", "WAL mode lets readers work while a single writer holds the lock."),
]
COUNT = 50
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class Command(BaseCommand):
    help = "Create or reset the demo blog: 50 posts by 5 authors."

    @transaction.atomic
    def handle(self, *args, **options):
        authors = [
            Author.objects.get_or_create(pk=pk, defaults={"name": name})[0]
            for pk, name in enumerate(AUTHORS, start=1)
        ]
        for pk in range(1, COUNT + 1):
            topic, sentence = TOPICS[(pk - 1) % len(TOPICS)]
            draft = pk % 5 == 0 and pk != 1
            Post.objects.update_or_create(
                pk=pk,
                defaults={
                    "title": f"Notes on {topic}, part {(pk - 1) // len(TOPICS) + 1}",
                    "slug": f"post-{pk}",
                    "body": f"{sentence} This is post {pk} of the demo blog.",
                    "published": None if draft else START + timedelta(days=pk),
                    "author": authors[(pk - 1) % len(authors)],
                },
            )
        for author in authors:
            author.published_count = author.posts.filter(
                published__isnull=False
            ).count()
            author.save(update_fields=["published_count"])
        # Rows were inserted with explicit ids; move PostgreSQL's sequences past them.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Author, Post]):
                cursor.execute(sql)
        if options["verbosity"]:
            self.stdout.write(f"Demo blog: {COUNT} posts by {len(authors)} authors.")
