from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone


class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)
    published_count = models.PositiveIntegerField(default=0)

    def __str__(self):
        return self.name


class PostQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published__isnull=False).order_by("-published", "-pk")

    def search(self, q):
        """Published posts matching `q`: full-text search on PostgreSQL, a plain
        case-insensitive match elsewhere (SQLite has no search ranking built in)."""
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import (
                SearchQuery,
                SearchRank,
                SearchVector,
            )

            vector = SearchVector("title", weight="A") + SearchVector(
                "body", weight="B"
            )
            query = SearchQuery(q, search_type="websearch")
            return (
                self.published()
                .annotate(rank=SearchRank(vector, query))
                .filter(rank__gt=0)
                .order_by("-rank", "-pk")
            )
        return self.published().filter(
            models.Q(title__icontains=q) | models.Q(body__icontains=q)
        )


class Post(models.Model):
    """A blog post; the django-ninja seed calls this model `Blog`."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField()
    published = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="posts")
    likes = models.PositiveIntegerField(default=0)

    objects = PostQuerySet.as_manager()

    def __str__(self):
        return self.title

    @transaction.atomic
    def publish(self):
        """Publish this draft and count it for its author, both or neither.

        A transaction spans several queries on one connection, so it is written
        as one sync function; async views call it through sync_to_async, as
        Django's documentation advises (transactions are not async yet).
        Returns False if the post was already published.
        """
        updated = Post.objects.filter(pk=self.pk, published__isnull=True).update(
            published=timezone.now()
        )
        if updated:
            Author.objects.filter(pk=self.author_id).update(
                published_count=F("published_count") + 1
            )
        self.refresh_from_db(fields=["published"])
        return bool(updated)
