"""Settings read from the environment, and Django's deployment checklist."""

import os
import subprocess
import sys

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import checks
from django.core.checks.registry import registry
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.test import SimpleTestCase, override_settings
from django.utils.module_loading import import_string

from harness.servers import BASE_DIR, PRODUCTION_ENV
from leanasgi import checks as project_checks


def manage(*args, **env):
    """Run manage.py in a fresh process with `env` on top of a clean environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "mysite.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def deploy_warnings():
    """The ids `check --deploy` reports under the current settings."""
    found = checks.run_checks(
        tags=[checks.Tags.security], include_deployment_checks=True
    )
    return {message.id for message in found}


class DeploymentTests(SimpleTestCase):
    def test_check_deploy_is_clean_in_production(self):
        """`check --deploy` with production variables reports no issue, and
        silences none."""
        env = {**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": "example.com"}
        env.pop("DJANGO_HTTPS")  # production default: HTTPS hardening on
        result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no issues (0 silenced)", result.stdout)

    def test_django_checks_warn_when_security_middleware_is_removed(self):
        """Without the security, clickjacking or CSRF middleware, Django's own
        W001, W002 or W003 is reported; the subclasses alone satisfy them."""
        self.assertFalse(deploy_warnings() & {"security.W001", "security.W002"})
        for removed, warning in [
            ("SecurityMiddleware", "security.W001"),
            ("XFrameOptionsMiddleware", "security.W002"),
            ("CsrfViewMiddleware", "security.W003"),
        ]:
            middleware = [m for m in settings.MIDDLEWARE if not m.endswith(removed)]
            with self.subTest(removed), override_settings(MIDDLEWARE=middleware):
                self.assertIn(warning, deploy_warnings())

    @override_settings(
        SECURE_HSTS_SECONDS=0,
        SECURE_SSL_REDIRECT=False,
        SECURE_CONTENT_TYPE_NOSNIFF=False,
        SECURE_REFERRER_POLICY=None,
        X_FRAME_OPTIONS="SAMEORIGIN",
        CSRF_COOKIE_SECURE=False,
        SESSION_COOKIE_SECURE=False,
    )
    def test_checks_that_depend_on_the_middleware_still_run(self):
        """With the subclasses in place, the checks Django runs only when its
        middleware is listed (HSTS, redirect, nosniff, referrer policy,
        X-Frame-Options, secure cookies) report as they would for Django's class."""
        for middleware in (settings.MIDDLEWARE, settings.STOCK_MIDDLEWARE):
            with self.subTest(middleware[0]), override_settings(MIDDLEWARE=middleware):
                self.assertLessEqual(
                    {
                        "security.W004",
                        "security.W006",
                        "security.W008",
                        "security.W012",  # session app and middleware, cookie not secure
                        "security.W016",
                        "security.W019",
                        "security.W022",
                    },
                    deploy_warnings(),
                )

    def test_django_paths_for_the_subclasses(self):
        """Each project middleware is named by its Django parent, which are
        startproject's seven and Django 6's CSP; other paths are kept."""
        mapped = [project_checks.django_path(path) for path in settings.MIDDLEWARE]
        stock_and_csp = list(settings.STOCK_MIDDLEWARE)
        stock_and_csp.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")
        self.assertEqual(
            [path for path in mapped if path.startswith("django.")], stock_and_csp
        )
        self.assertEqual(
            project_checks.django_path("mysite.middleware.ServerTimingMiddleware"),
            "mysite.middleware.ServerTimingMiddleware",
        )

    def test_checks_leave_middleware_as_listed(self):
        """Running the checks puts MIDDLEWARE back as it was."""
        listed = list(settings.MIDDLEWARE)
        deploy_warnings()
        self.assertEqual(settings.MIDDLEWARE, listed)

    def test_every_django_security_check_is_swapped_once(self):
        """Each of Django's security checks is registered only as its
        subclass-aware copy, and installing twice changes nothing."""
        project_checks.install()
        for kind in (registry.registered_checks, registry.deployment_checks):
            security = [
                check
                for check in kind
                if check.__module__.startswith("django.core.checks.security.")
            ]
            names = [check.__name__ for check in security]
            with self.subTest(deploy=kind is registry.deployment_checks):
                self.assertTrue(security)
                self.assertEqual(len(names), len(set(names)))
                self.assertTrue(all(check.sees_subclasses for check in security))

    def test_subclasses_of_djangos_middleware(self):
        """The project's middleware subclass Django's security, clickjacking,
        CSRF, session and authentication middleware."""
        classes = [import_string(path) for path in settings.MIDDLEWARE]
        for required in [
            SecurityMiddleware,
            XFrameOptionsMiddleware,
            CsrfViewMiddleware,
            SessionMiddleware,
            AuthenticationMiddleware,
        ]:
            with self.subTest(required.__name__):
                self.assertTrue(any(issubclass(c, required) for c in classes))

    def test_debug_off_without_secret_key_fails_with_one_line(self):
        """DEBUG off and no DJANGO_SECRET_KEY: start-up stops with a one-line message."""
        result = manage("check", DJANGO_DEBUG="0")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr, "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0.\n"
        )

    def test_development_needs_no_variable(self):
        """With no DJANGO_* variable at all, the project passes its checks in DEBUG."""
        result = manage("check")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_allowed_hosts_from_the_environment(self):
        """DJANGO_ALLOWED_HOSTS is a comma-separated list."""
        result = manage(
            "shell",
            "-c",
            "from django.conf import settings; print(settings.ALLOWED_HOSTS)",
            DJANGO_ALLOWED_HOSTS="a.example, b.example",
        )
        self.assertEqual(result.stdout.splitlines()[-1], "['a.example', 'b.example']")


class MiddlewareSettingsTests(SimpleTestCase):
    def test_stock_middleware_switch(self):
        """DJANGO_STOCK=1 swaps in Django's own classes, for comparison."""
        code = "from django.conf import settings; print(settings.MIDDLEWARE)"
        result = manage("shell", "-c", code, DJANGO_STOCK="1")
        self.assertEqual(result.stdout.splitlines()[-1], str(settings.STOCK_MIDDLEWARE))
        result = manage("shell", "-c", code)
        self.assertEqual(result.stdout.splitlines()[-1], str(settings.MIDDLEWARE))


class SqliteSettingsTests(SimpleTestCase):
    def test_sqlite_runs_in_wal_mode_with_immediate_transactions(self):
        """On the SQLite default, a connection is in WAL mode with a 20 s busy
        timeout, and transactions begin IMMEDIATE (they take the write lock
        at BEGIN)."""
        if os.environ.get("DATABASE_URL", "").startswith("postgres"):
            self.skipTest("the SQLite default only")
        code = (
            "from django.db import connection; c = connection.cursor();"
            "print(c.execute('PRAGMA journal_mode').fetchone()[0],"
            " c.execute('PRAGMA busy_timeout').fetchone()[0],"
            " connection.transaction_mode)"
        )
        result = manage("shell", "-c", code)
        self.assertEqual(result.stdout.split()[-3:], ["wal", "20000", "IMMEDIATE"])


class DatabaseSettingsTests(SimpleTestCase):
    def test_postgresql_pool_checks_connections_and_waits_briefly(self):
        """With DATABASE_URL on PostgreSQL, Django's pool checks each connection
        before lending it (CONN_HEALTH_CHECKS) and waits at most
        DATABASE_POOL_TIMEOUT (5 s) for one; DATABASE_POOL_SIZE sets its size."""
        code = (
            "from django.conf import settings; d = settings.DATABASES['default'];"
            "print(d['CONN_HEALTH_CHECKS'], d['OPTIONS']['pool'])"
        )
        url = "postgres://app@127.0.0.1:1/app"  # settings only: never connects
        result = manage("shell", "-c", code, DATABASE_URL=url)
        self.assertEqual(
            result.stdout.splitlines()[-1],
            "True {'min_size': 2, 'max_size': 20, 'timeout': 5.0}",
        )
        result = manage("shell", "-c", code, DATABASE_URL=url, DATABASE_POOL_SIZE="8")
        self.assertIn("'max_size': 8", result.stdout)

    def test_no_atomic_requests_and_no_persistent_connections(self):
        """ATOMIC_REQUESTS is off (it breaks async views) and CONN_MAX_AGE is 0."""
        database = settings.DATABASES["default"]
        self.assertFalse(database["ATOMIC_REQUESTS"])
        self.assertEqual(database["CONN_MAX_AGE"], 0)
