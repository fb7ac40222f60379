"""The blog app: the async ORM in views and API operations, and its pitfalls."""

import asyncio
from datetime import UTC, datetime, timedelta
from unittest import mock

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.exceptions import SynchronousOnlyOperation
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import SimpleTestCase, TestCase, TransactionTestCase
from django.urls import reverse
from django.utils.text import slugify

from blog.models import MAX_POST_ID, Author, Post

HUGE_ID = "9" * 30


START = datetime(2026, 1, 1, tzinfo=UTC)


def create_post(author, title, days, *, draft=False, body="A post."):
    """A post published `days` days after 2026-01-01, or a draft."""
    published = None if draft else START + timedelta(days=days)
    return Post.objects.create(
        title=title, slug=slugify(title), body=body, author=author, published=published
    )


class BlogTestCase(TestCase):
    """Fifteen published posts by two authors (two pages), and two drafts."""

    @classmethod
    def setUpTestData(cls):
        ada = Author.objects.create(name="Ada")
        grace = Author.objects.create(name="Grace")
        for day in range(1, 14):
            create_post(ada if day % 2 else grace, f"Threads, day {day}", day)
        create_post(grace, "More asyncio", 21, body="Tasks and await.")
        cls.post = create_post(ada, "Notes on asyncio", 22, body="The event loop.")
        cls.draft = create_post(grace, "A draft", 0, draft=True)
        create_post(ada, "A draft on asyncio", 0, draft=True)
        cls.published = 15
        cls.missing_id = 10**6


class SeedTests(TestCase):
    """The demo data, on its own: the only tests that know its contents."""

    @classmethod
    def setUpTestData(cls):
        call_command("seed_blog", verbosity=0)

    def test_seed_is_idempotent(self):
        """seed_blog run twice keeps 50 posts, post 1 among them, and likes."""
        Post.objects.filter(pk=1).update(likes=7)
        call_command("seed_blog", verbosity=0)
        self.assertEqual(Post.objects.count(), 50)
        self.assertEqual(Post.objects.get(pk=1).likes, 7)
        self.assertEqual(Post.objects.published().count(), 40)

    def test_new_posts_get_fresh_ids(self):
        """After seeding with explicit ids, a new post gets the next free id."""
        post = Post.objects.create(
            title="New", slug="new", body="b", author=Author.objects.first()
        )
        self.assertGreater(post.pk, 50)


class BlogApiTests(BlogTestCase):
    async def test_get_post(self):
        """GET /api/blog/<id> answers the post with its author's name (the seed's aget)."""
        response = await self.async_client.get(f"/api/blog/{self.post.pk}")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(
            (body["id"], body["slug"], body["author"]),
            (self.post.pk, "notes-on-asyncio", "Ada"),
        )

    async def test_missing_post_is_a_404_json(self):
        """A post that does not exist gets 404 JSON saying so."""
        response = await self.async_client.get(f"/api/blog/{self.missing_id}")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(
            response.json(), {"detail": f"No post with id {self.missing_id}."}
        )

    async def test_bad_ids_are_422(self):
        """A non-integer, zero or too-large id gets 422 naming post_id, never a 500."""
        for post_id in ["abc", "0", "-1", HUGE_ID, str(2**63)]:
            with self.subTest(post_id):
                response = await self.async_client.get(f"/api/blog/{post_id}")
                self.assertEqual(response.status_code, 422)
                self.assertEqual(
                    response.json()["detail"][0]["loc"], ["path", "post_id"]
                )

    async def test_list_is_paginated(self):
        """GET /api/blog/ lists the 15 published posts ten a page, newest first."""
        body = (await self.async_client.get("/api/blog/?page=2")).json()
        self.assertEqual((body["count"], body["page"], body["pages"]), (15, 2, 2))
        self.assertEqual(len(body["items"]), 5)
        dates = [item["published"] for item in body["items"]]
        self.assertEqual(dates, sorted(dates, reverse=True))

    async def test_bad_pages(self):
        """Page 0 or abc gets 422; a page past the end gets 404 JSON."""
        for page, status in [("0", 422), ("abc", 422), ("-3", 422), ("3", 404)]:
            with self.subTest(page):
                response = await self.async_client.get(f"/api/blog/?page={page}")
                self.assertEqual(response.status_code, status)
                self.assertIn("detail", response.json())

    async def test_like(self):
        """POST like adds one and answers the new count."""
        first = await self.async_client.post(f"/api/blog/{self.post.pk}/like")
        second = await self.async_client.post(f"/api/blog/{self.post.pk}/like")
        self.assertEqual([first.json(), second.json()], [{"likes": 1}, {"likes": 2}])

    async def test_like_missing_post(self):
        """Liking a post that does not exist is a 404, and changes nothing."""
        before = [post async for post in Post.objects.values_list("pk", "likes")]
        response = await self.async_client.post(f"/api/blog/{self.missing_id}/like")
        self.assertEqual(response.status_code, 404)
        after = [post async for post in Post.objects.values_list("pk", "likes")]
        self.assertEqual(after, before)


class LostUpdateTests(TransactionTestCase):
    """The control for the atomic like: read, add one, save loses updates."""

    async def like_fifty_times(self, like):
        author = await Author.objects.acreate(name="Test author")
        post = await Post.objects.acreate(
            title="A post", slug="a-post", body="...", author=author
        )
        await asyncio.gather(*(like(post.pk) for _ in range(50)))
        return (await Post.objects.aget(pk=post.pk)).likes

    async def test_read_modify_write_loses_likes(self):
        """50 concurrent `post.likes += 1; await post.asave()` count far fewer than 50."""

        async def racy_like(pk):
            post = await Post.objects.aget(pk=pk)
            post.likes += 1
            await post.asave(update_fields=["likes"])

        self.assertLess(await self.like_fifty_times(racy_like), 50)

    async def test_one_update_loses_none(self):
        """The same 50 as one `UPDATE ... SET likes = likes + 1` each count 50."""

        async def atomic_like(pk):
            await Post.objects.filter(pk=pk).aupdate(likes=F("likes") + 1)

        self.assertEqual(await self.like_fifty_times(atomic_like), 50)


class PostListTests(BlogTestCase):
    async def test_async_and_sync_lists_show_the_same_page(self):
        """Both list views show the same ten newest published posts."""
        newest = [p.title async for p in Post.objects.published()[:10]]
        for name in ["blog:post_list_async", "blog:post_list_sync"]:
            with self.subTest(name):
                response = await self.async_client.get(reverse(name))
                self.assertEqual(response.status_code, 200)
                self.assertEqual([p.title for p in response.context["posts"]], newest)

    async def test_bad_pages_are_404(self):
        """Page 0, abc, or past the end gets Django's 404 page."""
        for name in ["blog:post_list_async", "blog:post_list_sync"]:
            for page in ["0", "abc", "3", HUGE_ID]:
                with self.subTest(name=name, page=page):
                    response = await self.async_client.get(
                        reverse(name), {"page": page}
                    )
                    self.assertEqual(response.status_code, 404)


DETAIL_VIEWS = [
    "blog:post_detail_async",
    "blog:post_detail_sync",
    "blog:post_detail_decorated",
    "blog:post_detail_inline",
]


class PostDetailTests(BlogTestCase):
    async def test_every_variant_shows_the_post_and_author(self):
        """All four detail views render the post and its author."""
        for name in DETAIL_VIEWS:
            with self.subTest(name):
                response = await self.async_client.get(
                    reverse(name, args=[self.post.pk])
                )
                self.assertContains(response, "Notes on asyncio")
                self.assertContains(response, "By Ada")

    async def test_missing_or_huge_ids_are_404(self):
        """A missing post, or an id too long for the column, is Django's 404."""
        for name in DETAIL_VIEWS:
            with self.subTest(name):
                response = await self.async_client.get(
                    reverse(name, args=[self.missing_id])
                )
                self.assertEqual(response.status_code, 404)
        response = await self.async_client.get(f"/blog/{HUGE_ID}/")
        self.assertEqual(response.status_code, 404)

    async def test_one_post_id_rule_for_pages_and_api(self):
        """The largest id a post can have is looked up (and missing: 404) by the
        page and the API alike; one past it is refused by both before any query."""
        largest, past = MAX_POST_ID, MAX_POST_ID + 1
        self.assertEqual(
            (await self.async_client.get(f"/blog/{largest}/")).status_code, 404
        )
        self.assertEqual(
            (await self.async_client.get(f"/api/blog/{largest}")).status_code, 404
        )
        self.assertEqual(
            (await self.async_client.get(f"/blog/{past}/")).status_code, 404
        )
        self.assertEqual(
            (await self.async_client.get(f"/api/blog/{past}")).status_code, 422
        )

    def test_post_urls_come_from_the_model(self):
        """Post.get_absolute_url is the async detail page, which the list links
        to, newest first."""
        post = Post.objects.published().first()
        self.assertEqual(
            post.get_absolute_url(), reverse("blog:post_detail_async", args=[post.pk])
        )
        self.assertContains(
            self.client.get("/blog/"), f'href="{post.get_absolute_url()}"'
        )


class SearchTests(BlogTestCase):
    async def test_finds_matching_posts(self):
        """?q=asyncio finds the two published asyncio posts, not the draft, on
        either database."""
        body = (await self.async_client.get("/blog/search/", {"q": "asyncio"})).json()
        self.assertEqual(body["backend"], connection.vendor)
        self.assertEqual(
            sorted(r["title"] for r in body["results"]),
            ["More asyncio", "Notes on asyncio"],
        )
        self.assertEqual(body["count"], 2)

    async def test_no_match(self):
        """A search with no match answers an empty list."""
        body = (await self.async_client.get("/blog/search/", {"q": "zebra"})).json()
        self.assertEqual((body["count"], body["results"]), (0, []))

    async def test_bad_queries_are_400(self):
        """An empty, blank or 1000-character q gets 400 JSON saying what is allowed."""
        for q in ["", "   ", "x" * 1000]:
            with self.subTest(len(q)):
                response = await self.async_client.get("/blog/search/", {"q": q})
                self.assertEqual(response.status_code, 400)
                self.assertIn("1 to 200", response.json()["fields"]["q"]["allowed"])


class PublishTests(BlogTestCase):
    """Publishing as the draft's author (tests/test_permissions.py: as anyone else)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.grace = User.objects.create_user("Grace")

    def setUp(self):
        self.async_client.force_login(self.grace)

    async def test_publish_updates_post_and_author_together(self):
        """Publishing a draft sets its date and counts it for its author, once."""
        draft = await Post.objects.with_author().aget(pk=self.draft.pk)
        before = draft.author.published_count
        url = reverse("blog:post_publish", args=[draft.pk])
        response = await self.async_client.post(url)
        self.assertRedirects(
            response, draft.get_absolute_url(), fetch_redirect_response=False
        )
        await self.async_client.post(url)  # twice: counted once
        post = await Post.objects.with_author().aget(pk=draft.pk)
        self.assertIsNotNone(post.published)
        self.assertEqual(post.author.published_count, before + 1)

    async def test_publish_is_all_or_nothing(self):
        """If counting for the author fails, the post stays a draft."""
        with (
            mock.patch.object(Author.objects, "filter", side_effect=RuntimeError),
            self.assertRaises(RuntimeError),
        ):
            await self.async_client.post(
                reverse("blog:post_publish", args=[self.draft.pk])
            )
        post = await Post.objects.aget(pk=self.draft.pk)
        self.assertIsNone(post.published)

    async def test_publish_needs_post(self):
        """GET on the publish URL is refused with 405."""
        response = await self.async_client.get(
            reverse("blog:post_publish", args=[self.draft.pk])
        )
        self.assertEqual(response.status_code, 405)


class OrmPitfallTests(BlogTestCase):
    """What raises when the sync ORM meets async code, and the fixes."""

    async def test_sync_query_in_async_code_raises(self):
        """A sync query inside async code raises SynchronousOnlyOperation."""
        with self.assertRaises(SynchronousOnlyOperation):
            Post.objects.get(pk=self.post.pk)

    async def test_lazy_related_object_raises(self):
        """post.author without select_related is a hidden sync query: it raises."""
        post = await Post.objects.aget(pk=self.post.pk)
        with self.assertRaises(SynchronousOnlyOperation):
            _ = post.author.name
        post = await Post.objects.with_author().aget(pk=self.post.pk)
        self.assertEqual(post.author.name, "Ada")

    async def test_sync_to_async_of_a_queryset_is_still_lazy(self):
        """sync_to_async(Post.objects.all)() returns a queryset that has not run;
        iterating it here raises. list() in the thread, or async for, fixes it."""
        lazy = await sync_to_async(Post.objects.all)()
        with self.assertRaises(SynchronousOnlyOperation):
            list(lazy)
        evaluated = await sync_to_async(list)(Post.objects.published())
        self.assertEqual(len(evaluated), self.published)
        self.assertEqual(
            len([post async for post in Post.objects.published()]), self.published
        )

    async def test_atomic_requests_breaks_async_views(self):
        """With ATOMIC_REQUESTS on, Django refuses to run an async view."""
        settings_dict = connection.settings_dict
        with (
            mock.patch.dict(settings_dict, {"ATOMIC_REQUESTS": True}),
            self.assertRaisesMessage(RuntimeError, "ATOMIC_REQUESTS"),
        ):
            await self.async_client.get(
                reverse("blog:post_detail_async", args=[self.post.pk])
            )


class PauseInputTests(SimpleTestCase):
    async def test_a_bad_pause_is_a_400_naming_what_is_allowed(self):
        """Each slow-query view answers a missing, non-numeric or too long
        `seconds` with 400 JSON that says 0 to 1 is allowed, before any query."""
        for name in ("gathered_queries", "one_query", "queries_apart"):
            for query in ("", "?seconds=abc", "?seconds=5", "?seconds=-1"):
                with self.subTest(name=name, query=query):
                    url = reverse(f"blog:pitfall_{name}") + query
                    response = await self.async_client.get(url)
                    self.assertEqual(response.status_code, 400)
                    field = response.json()["fields"]["seconds"]
                    self.assertEqual(
                        field["allowed"], "seconds each query waits, 0 to 1"
                    )
