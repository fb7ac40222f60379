"""A logged-in author's drafts, async: a throttled login with alogin,
@login_required on an async view, auser() against request.user, and the
same on a django-ninja operation (blog/accounts.py, blog/api.py)."""

import time
from unittest import mock

from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, TransactionTestCase, override_settings
from django.urls import reverse

from blog.accounts import WRONG_LOGIN
from blog.models import Author, Post

REVISIT = "changed upstream: revisit docs/orm.md, 'request.user in async code'"


class AccountTests(TransactionTestCase):
    """A TransactionTestCase: the login checks passwords on a thread of its
    own (blog/accounts.py), outside a TestCase's transaction."""

    def setUp(self):
        cache.clear()  # the login throttle's counts
        author = Author.objects.create(name="margaret")
        other = Author.objects.create(name="someone-else")
        User.objects.create_user("margaret", password="a long pass phrase")
        for title, who in [("Mine", author), ("Not mine", other)]:
            Post.objects.create(author=who, title=title, slug=title, body="b")

    def log_in(self, client=None, password="a long pass phrase"):
        client = client or self.client
        return client.post(
            reverse("blog:login"), {"username": "margaret", "password": password}
        )

    def test_an_anonymous_visitor_is_sent_to_log_in(self):
        """The drafts page redirects an anonymous visitor to the login page,
        which sends them back after."""
        response = self.client.get(reverse("blog:drafts"))
        self.assertRedirects(
            response, f"{reverse('blog:login')}?next={reverse('blog:drafts')}"
        )

    def test_a_login_shows_the_authors_own_drafts(self):
        """After logging in, the drafts page lists the author's drafts, not
        another author's."""
        self.assertRedirects(self.log_in(), reverse("blog:drafts"))
        page = self.client.get(reverse("blog:drafts"))
        self.assertContains(page, "Mine")
        self.assertNotContains(page, "Not mine")

    def test_a_wrong_login_is_a_400_that_names_no_field(self):
        """A wrong password and an unknown user get the same 400 and the
        same message, so it never says which of the two was wrong."""
        wrong_password = self.log_in(password="nope")
        unknown = self.client.post(
            reverse("blog:login"), {"username": "nobody", "password": "nope"}
        )
        for response in (wrong_password, unknown):
            self.assertEqual(response.status_code, 400)
            self.assertContains(response, WRONG_LOGIN, status_code=400)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_the_login_is_csrf_protected(self):
        """Without the CSRF token a login POST is refused with a 403."""
        client = Client(enforce_csrf_checks=True)
        self.assertEqual(self.log_in(client).status_code, 403)

    def test_an_unsafe_next_is_ignored(self):
        """?next= pointing off this site lands on the drafts page instead."""
        response = self.client.post(
            reverse("blog:login") + "?next=https://evil.example/",
            {"username": "margaret", "password": "a long pass phrase"},
        )
        self.assertRedirects(response, reverse("blog:drafts"))

    def test_request_user_raises_in_async_code_and_auser_does_not(self):
        """Logged in, touching request.user in an async view raises
        SynchronousOnlyOperation (a sync query loads the user); awaiting
        request.auser() answers the username."""
        self.log_in()
        raised = self.client.get(reverse("blog:pitfall_request_user")).json()
        self.assertTrue(
            raised["raised"].startswith("SynchronousOnlyOperation"), REVISIT
        )
        whoami = self.client.get(reverse("blog:whoami")).json()
        self.assertEqual(whoami, {"username": "margaret"})

    def test_the_api_answers_401_json_without_a_login(self):
        """The ninja operation's async session auth: 401 JSON when anonymous,
        the author's drafts when logged in."""
        anonymous = self.client.get("/api/blog/drafts")
        self.assertEqual(anonymous.status_code, 401)
        self.assertEqual(anonymous.json(), {"detail": "Unauthorized"})
        self.log_in()
        drafts = self.client.get("/api/blog/drafts").json()
        self.assertEqual([post["title"] for post in drafts], ["Mine"])


# Fast hashes, so that a burst of attempts fits in one short window.
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class LoginThrottleTests(TransactionTestCase):
    """blog/throttle.py: attempts per username and per address, per window."""

    def setUp(self):
        cache.clear()
        User.objects.create_user("margaret", password="a long pass phrase")

    def attempt(self, password, username="margaret"):
        return self.client.post(
            reverse("blog:login"), {"username": username, "password": password}
        )

    @override_settings(LOGIN_WINDOW=2)
    def test_guessing_is_refused_until_the_window_passes(self):
        """Past 5 attempts for one username, a 429 with Retry-After of at most
        the window; the right password is refused too until the window
        passes, then it logs in."""
        time.sleep(2 - time.time() % 2)  # a whole window ahead
        statuses = [self.attempt("wrong").status_code for _ in range(7)]
        self.assertEqual(statuses, [400] * 5 + [429] * 2)
        refused = self.attempt("a long pass phrase")
        self.assertEqual(refused.status_code, 429)
        self.assertLessEqual(int(refused["Retry-After"]), 3)
        self.assertContains(refused, "Too many attempts", status_code=429)
        time.sleep(int(refused["Retry-After"]))
        self.assertEqual(self.attempt("a long pass phrase").status_code, 302)

    def test_one_address_is_limited_across_usernames(self):
        """30 attempts from one address on 30 different usernames, then the
        31st is a 429, whatever its username."""
        statuses = [self.attempt("x", f"user{n}").status_code for n in range(31)]
        self.assertEqual(statuses, [400] * 30 + [429])


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class LoginBoundTests(TransactionTestCase):
    """What the login answers when it cannot check a password now."""

    def setUp(self):
        cache.clear()
        User.objects.create_user("margaret", password="a long pass phrase")

    def attempt(self, username="margaret", password="a long pass phrase"):
        return self.client.post(
            reverse("blog:login"), {"username": username, "password": password}
        )

    @override_settings(LOGIN_MAX_CHECKING=0)
    def test_too_many_logins_waiting_is_a_503(self):
        """With LOGIN_MAX_CHECKING logins already waiting for the password
        thread, the next is a 503 with Retry-After, and not logged in."""
        response = self.attempt()
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "1")
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_a_cache_that_does_not_answer_is_a_503(self):
        """When the cache behind the throttle fails (Redis down), the login
        answers 503 with Retry-After, not a 500."""
        with mock.patch.object(cache, "aadd", side_effect=ConnectionError("down")):
            response = self.attempt()
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "5")

    def test_an_address_over_its_limit_leaves_the_username_alone(self):
        """Attempts the address limit refuses do not count for the username
        they name: margaret can still log in once that address's window
        has other room (here: another address)."""
        with override_settings(LOGIN_ATTEMPTS_PER_ADDRESS=1):
            self.attempt(password="wrong")
            for _ in range(10):
                self.assertEqual(self.attempt(password="wrong").status_code, 429)
        other = Client(REMOTE_ADDR="10.0.0.2")
        response = other.post(
            reverse("blog:login"),
            {"username": "margaret", "password": "a long pass phrase"},
        )
        self.assertEqual(response.status_code, 302)
