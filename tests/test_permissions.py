"""Who may write and what may be read: a draft is its author's (and
superusers') on every path that shows a post, only they publish it, and the
API's writes are refused cross-site (blog/models.py's visible_to, blog/api.py's auths)."""

from django.contrib.auth.models import User
from django.test import Client, TestCase, TransactionTestCase
from django.urls import reverse
from django.utils import timezone

from blog.models import Author, Post

# Every path that shows one post, as the name of its route.
DETAIL_ROUTES = [
    "blog:post_detail_async",
    "blog:post_detail_sync",
    "blog:post_detail_decorated",
    "blog:post_detail_inline",
]


class DraftTests(TestCase):
    """One draft by margaret, read and published by each kind of visitor."""

    @classmethod
    def setUpTestData(cls):
        cls.author = User.objects.create_user("margaret", password="pass phrase 1")
        cls.other = User.objects.create_user("someone", password="pass phrase 2")
        cls.staff = User.objects.create_superuser("editor")
        cls.mere_staff = User.objects.create_user("helper", is_staff=True)
        margaret = Author.objects.create(name="margaret")
        cls.draft = Post.objects.create(
            author=margaret, title="Unfinished", slug="unfinished", body="b"
        )

    def client_as(self, user):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    def paths(self):
        """Every URL that reads the draft, in HTML and in the API (the event
        stream reads on threads of its own: DraftStreamTests)."""
        pk = self.draft.pk
        yield from (reverse(route, args=[pk]) for route in DETAIL_ROUTES)
        yield f"/api/blog/{pk}"
        yield f"/api/blog/pitfalls/lazy-author/{pk}"

    def test_a_draft_is_not_found_by_anyone_but_its_author(self):
        """Anonymous, another user and a staff user who is no superuser get
        404 on every path that reads the draft, as for a post that does not
        exist."""
        for who in (None, self.other, self.mere_staff):
            client = self.client_as(who)
            for path in self.paths():
                with self.subTest(who=who, path=path):
                    self.assertEqual(client.get(path).status_code, 404)

    def test_its_author_and_staff_read_it(self):
        """The author, and a superuser, read the draft on each of those paths."""
        for who in (self.author, self.staff):
            client = self.client_as(who)
            for path in self.paths():
                with self.subTest(who=who.username, path=path):
                    self.assertEqual(client.get(path).status_code, 200)

    def test_an_anonymous_publish_is_sent_to_log_in(self):
        """An anonymous POST to publish redirects to the login page, which
        then sends back to the post, and leaves the draft a draft."""
        url = reverse("blog:post_publish", args=[self.draft.pk])
        response = self.client.post(url)
        self.assertRedirects(
            response,
            f"{reverse('blog:login')}?next={self.draft.get_absolute_url()}",
            fetch_redirect_response=False,
        )
        self.draft.refresh_from_db()
        self.assertIsNone(self.draft.published)

    def test_another_user_cannot_publish_it(self):
        """Another user's publish finds no such draft (404); on a published
        post that is not theirs, a 403."""
        url = reverse("blog:post_publish", args=[self.draft.pk])
        client = self.client_as(self.other)
        self.assertEqual(client.post(url).status_code, 404)
        self.draft.refresh_from_db()
        self.assertIsNone(self.draft.published)
        self.client_as(self.author).post(url)
        self.assertEqual(client.post(url).status_code, 403)

    def test_its_author_and_staff_publish_it(self):
        """The author's publish, or a superuser's, publishes the draft."""
        for who in (self.author, self.staff):
            Post.objects.filter(pk=self.draft.pk).update(published=None)
            url = reverse("blog:post_publish", args=[self.draft.pk])
            with self.subTest(who=who.username):
                self.assertEqual(self.client_as(who).post(url).status_code, 302)
                self.draft.refresh_from_db()
                self.assertIsNotNone(self.draft.published)

    def test_a_draft_cannot_be_liked_by_whoever_cannot_read_it(self):
        """POST like on the draft: 404 for anonymous and another user, 200
        for its author."""
        like = f"/api/blog/{self.draft.pk}/like"
        self.assertEqual(self.client.post(like).status_code, 404)
        self.assertEqual(self.client_as(self.other).post(like).status_code, 404)
        self.assertEqual(self.client_as(self.author).post(like).status_code, 200)


class DraftStreamTests(TransactionTestCase):
    """The event stream checks the draft on a thread of its own, outside a
    TestCase's transaction (tests/test_testing.py), so this commits its rows."""

    def test_a_drafts_stream_is_its_authors(self):
        """/blog/<draft>/events/ is a 404 for anonymous and another user, and
        a text/event-stream for its author."""
        author = User.objects.create_user("margaret")
        other = User.objects.create_user("someone")
        margaret = Author.objects.create(name="margaret")
        draft = Post.objects.create(author=margaret, title="D", slug="d", body="b")
        url = reverse("blog:post_events", args=[draft.pk])
        self.assertEqual(self.client.get(url).status_code, 404)
        self.client.force_login(other)
        self.assertEqual(self.client.get(url).status_code, 404)
        self.client.force_login(author)
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/event-stream")
        response.close()


class CrossSiteTests(TestCase):
    """The API's writes run Django's CSRF check: a form on another site, with
    the visitor's cookies, is refused; this site's own pages are not."""

    @classmethod
    def setUpTestData(cls):
        cls.user = User.objects.create_user("margaret")
        author = Author.objects.create(name="margaret")
        cls.post = Post.objects.create(
            author=author, title="Out", slug="out", body="b", published=timezone.now()
        )

    def setUp(self):
        self.browser = Client(enforce_csrf_checks=True)
        self.browser.force_login(self.user)

    def writes(self):
        pk = self.post.pk
        return [
            f"/api/blog/{pk}/like",
            f"/api/blog/{pk}/recount",
            f"/api/blog/pitfalls/fire-and-forget/{pk}",
        ]

    def test_a_write_with_no_token_is_refused(self):
        """Each write, POSTed with the visitor's session but no CSRF token,
        as a form on another site would: 403, and nothing is done."""
        for path in self.writes():
            with self.subTest(path=path):
                response = self.browser.post(
                    path, headers={"Origin": "https://evil.example"}
                )
                self.assertEqual(response.status_code, 403)
                self.assertIn("CSRF", response.json()["detail"])
        self.post.refresh_from_db()
        self.assertEqual(self.post.likes, 0)

    def test_a_foreign_origin_is_refused_even_with_a_token(self):
        """A valid token does not help a request whose Origin is another site."""
        token = self.csrf_token()
        response = self.browser.post(
            self.writes()[0],
            headers={"Origin": "https://evil.example", "X-CSRFToken": token},
        )
        self.assertEqual(response.status_code, 403)

    def test_this_sites_pages_may_write(self):
        """With the token from this site's page in X-CSRFToken, a like works
        for anyone and a recount for a logged-in user; a recount with no login
        is a 401."""
        token = self.csrf_token()
        headers = {"X-CSRFToken": token}
        like = self.browser.post(self.writes()[0], headers=headers)
        self.assertEqual(like.status_code, 200)
        recount = self.browser.post(self.writes()[1], headers=headers)
        self.assertEqual(recount.status_code, 202)
        anonymous = Client(enforce_csrf_checks=True)
        anonymous.get(self.post.get_absolute_url())
        headers = {"X-CSRFToken": anonymous.cookies["csrftoken"].value}
        self.assertEqual(
            anonymous.post(self.writes()[0], headers=headers).status_code, 200
        )
        self.assertEqual(
            anonymous.post(self.writes()[1], headers=headers).status_code, 401
        )

    def csrf_token(self):
        """The token a page of this site gives: the post page sets the cookie."""
        self.browser.get(self.post.get_absolute_url())
        return self.browser.cookies["csrftoken"].value

    def test_the_openapi_document_says_who_may_write(self):
        """Every POST operation in /api/openapi.json names its security: the
        CSRF cookie for a like, the session for recount and the pitfall."""
        schema = self.client.get("/api/openapi.json").json()
        security = {
            path: operation["post"].get("security")
            for path, operation in schema["paths"].items()
            if "post" in operation
        }
        self.assertTrue(security)
        self.assertTrue(all(security.values()), security)
        schemes = schema["components"]["securitySchemes"]
        self.assertEqual(
            {name: (s["in"], s["name"]) for name, s in schemes.items()},
            {
                "FromThisSite": ("cookie", "csrftoken"),
                "AsyncSessionAuth": ("cookie", "sessionid"),
            },
        )
