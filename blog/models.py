from django.db import connection, models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

# Posts per page, in the HTML list and in the API alike.
PAGE_SIZE = 10
# A BigAutoField holds ids up to 2**63 - 1: a larger one in a URL is a 404 (the
# converter) or a 422 (the API), never a database overflow error.
MAX_POST_ID = 2**63 - 1


class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)
    published_count = models.PositiveIntegerField(default=0)

    def __str__(self):
        return self.name


class PostQuerySet(models.QuerySet):
    def with_author(self):
        """Fetch each post's author in the same query: an async view cannot
        load post.author lazily later (that would be a sync query)."""
        return self.select_related("author")

    def published(self):
        return self.filter(published__isnull=False)

    def visible_to(self, user):
        """What `user` may read: published posts, and drafts to their author
        (the user whose username is the author's name: the demo's simple
        link between the two) and to superusers, who may edit every post in
        the admin anyway. Anyone else gets a 404 for a draft, as if it did
        not exist. (A staff user's admin rights would take a permission
        query, which an async caller would have to await.)"""
        if user.is_superuser:
            return self.all()
        if user.is_authenticated:
            mine = models.Q(author__name=user.get_username())
            return self.filter(mine | models.Q(published__isnull=False))
        return self.published()

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
    """A blog post; django-ninja's guide calls this model `Blog`."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField()
    published = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="posts")
    likes = models.PositiveIntegerField(default=0)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-published", "-pk"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("blog:post_detail_async", args=[self.pk])

    def may_be_published_by(self, user):
        """Only its author, or a superuser, publishes a post."""
        return user.is_superuser or (
            user.is_authenticated and self.author.name == user.get_username()
        )

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
