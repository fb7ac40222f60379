"""System checks: Django's security checks see the subclasses, nothing is
silenced, a fallback to Django's thread hop is reported, and so is every
middleware or receiver that costs each request a thread."""

from django.conf import settings
from django.core import checks
from django.core.checks.registry import registry
from django.core.signals import request_started
from django.middleware import locale
from django.test import SimpleTestCase, override_settings
from django.utils.deprecation import MiddlewareMixin

from leanasgi import checks as lean_checks
from leanasgi import middleware

DEPLOY = dict(
    DEBUG=False,
    SECRET_KEY="x" * 60 + "leanasgi",
    ALLOWED_HOSTS=["example.com"],
    SECURE_HSTS_SECONDS=3600,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True,
    SECURE_SSL_REDIRECT=True,
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
    X_FRAME_OPTIONS="DENY",
)


def deploy_ids():
    return {m.id for m in checks.run_checks(include_deployment_checks=True)}


class SecurityCheckTests(SimpleTestCase):
    @override_settings(**DEPLOY)
    def test_a_hardened_project_passes_with_nothing_silenced(self):
        """With the subclasses listed, a hardened project gets no warning, and
        SILENCED_SYSTEM_CHECKS is empty."""
        self.assertEqual(settings.SILENCED_SYSTEM_CHECKS, [])
        self.assertEqual({i for i in deploy_ids() if i.startswith("security.")}, set())

    @override_settings(**DEPLOY)
    def test_removing_a_subclass_is_reported_as_django_reports_it(self):
        """Without the security, clickjacking or CSRF subclass, Django's own
        W001, W002 or W003 is raised."""
        for removed, warning in [
            ("SecurityMiddleware", "security.W001"),
            ("XFrameOptionsMiddleware", "security.W002"),
            ("CsrfViewMiddleware", "security.W003"),
        ]:
            listed = [m for m in settings.MIDDLEWARE if not m.endswith(removed)]
            with self.subTest(removed), override_settings(MIDDLEWARE=listed):
                self.assertIn(warning, deploy_ids())

    @override_settings(
        **{**DEPLOY, "SECURE_HSTS_SECONDS": 0, "X_FRAME_OPTIONS": "SAMEORIGIN"}
    )
    def test_checks_that_need_the_middleware_still_run(self):
        """HSTS (W004) and X-Frame-Options (W019) are checked for the subclasses."""
        self.assertLessEqual({"security.W004", "security.W019"}, deploy_ids())

    def test_every_django_security_check_is_swapped_once(self):
        """Each of Django's security checks is registered once, as its copy
        that sees subclasses; installing again changes nothing. (The registry's
        sets are internal: this fails if an upgrade changes them.)"""
        lean_checks.install()
        for registered in (registry.registered_checks, registry.deployment_checks):
            security = [
                check
                for check in registered
                if check.__module__.startswith("django.core.checks.security.")
            ]
            names = [check.__name__ for check in security]
            self.assertTrue(security)
            self.assertEqual(len(names), len(set(names)))
            self.assertTrue(all(check.sees_subclasses for check in security))

    def test_checks_leave_middleware_as_listed(self):
        """Running the checks puts MIDDLEWARE back as it was."""
        listed = list(settings.MIDDLEWARE)
        deploy_ids()
        self.assertEqual(settings.MIDDLEWARE, listed)

    def test_django_paths(self):
        """Each subclass is named by its Django parent; other paths are kept."""
        self.assertEqual(
            lean_checks.django_path("leanasgi.middleware.CsrfViewMiddleware"),
            "django.middleware.csrf.CsrfViewMiddleware",
        )
        self.assertEqual(lean_checks.django_path("tests.nowhere.X"), "tests.nowhere.X")


class ThreadHopCheckTests(SimpleTestCase):
    def test_djangos_defaults_report_nothing(self):
        """Django's own engine, storage and cookie token: no leanasgi message."""
        self.assertEqual(lean_checks.thread_hops(None), [])

    @override_settings(
        SESSION_ENGINE="tests.slow_sessions",
        MESSAGE_STORAGE="tests.test_middleware.Storage",
        CSRF_USE_SESSIONS=True,
    )
    def test_each_fallback_is_reported(self):
        """A custom engine, a custom storage and CSRF_USE_SESSIONS each get an
        Info that names the setting and what runs in a thread."""
        found = {m.id: m for m in lean_checks.thread_hops(None)}
        self.assertEqual(
            set(found), {"leanasgi.I001", "leanasgi.I002", "leanasgi.I003"}
        )
        self.assertIn("tests.slow_sessions", found["leanasgi.I001"].msg)
        self.assertTrue(all(m.level == checks.INFO for m in found.values()))


class Timing(MiddlewareMixin):
    """An adopter's own middleware, written the usual way."""

    def process_request(self, request):
        request.started = 0


class Locale(middleware.LocaleMiddleware):
    """A project's subclass of a twin, with a sync process_view of its own."""

    def process_view(self, request, view, args, kwargs):
        pass


class DjangoLocale(locale.LocaleMiddleware):
    """A project's subclass of Django's own class."""


class Viewing(MiddlewareMixin):
    """A process_view made async in async mode, as the twins do."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            self.process_view = self.aprocess_view

    def process_view(self, request, view, args, kwargs):
        pass

    async def aprocess_view(self, request, view, args, kwargs):
        pass

    async def __acall__(self, request):
        return await self.get_response(request)


def on_start(**kwargs):
    """An adopter's sync request_started receiver."""


async def on_start_async(**kwargs):
    """The same, async: it costs no thread."""


def costs(**overrides):
    with override_settings(**overrides):
        return {
            (m.id, m.obj): m
            for m in lean_checks.thread_costs(None)
            if m.level == checks.WARNING
        }


class ThreadCostCheckTests(SimpleTestCase):
    def test_the_lean_classes_cost_nothing(self):
        """The test project (the seven lean classes): no warning."""
        self.assertEqual(costs(), {})

    def test_djangos_own_classes_are_named_with_their_lean_twin(self):
        """Django's LocaleMiddleware and GZipMiddleware listed as they are:
        a Warning each, naming the class and leanasgi's subclass."""
        found = costs(
            MIDDLEWARE=[
                *settings.MIDDLEWARE,
                "django.middleware.locale.LocaleMiddleware",
                "django.middleware.gzip.GZipMiddleware",
            ]
        )
        self.assertEqual(
            set(found),
            {
                ("leanasgi.W001", "django.middleware.locale.LocaleMiddleware"),
                ("leanasgi.W001", "django.middleware.gzip.GZipMiddleware"),
            },
        )
        locale = found["leanasgi.W001", "django.middleware.locale.LocaleMiddleware"]
        self.assertIn("'leanasgi.middleware.LocaleMiddleware'", locale.hint)

    def test_a_projects_own_mixin_middleware_is_named(self):
        """A custom MiddlewareMixin class with a process_request: a Warning
        that says its hook goes through a thread."""
        found = costs(MIDDLEWARE=[*settings.MIDDLEWARE, f"{__name__}.Timing"])
        [warning] = found.values()
        self.assertEqual(warning.obj, f"{__name__}.Timing")
        self.assertIn("process_request", warning.msg)
        self.assertIn("async-capable", warning.hint)

    def test_a_twins_subclass_with_a_sync_process_view_is_named(self):
        """A twin's own hooks stay on the loop; a sync process_view a
        subclass adds does not, and is named."""
        found = costs(MIDDLEWARE=[*settings.MIDDLEWARE, f"{__name__}.Locale"])
        [warning] = found.values()
        self.assertIn("process_view", warning.msg)

    def test_a_subclass_of_djangos_class_is_told_to_subclass_the_twin(self):
        """A project's subclass of Django's LocaleMiddleware: the hint says to
        subclass leanasgi's twin, not to replace the class with it."""
        found = costs(MIDDLEWARE=[*settings.MIDDLEWARE, f"{__name__}.DjangoLocale"])
        [warning] = found.values()
        self.assertIn("Subclass 'leanasgi.middleware.LocaleMiddleware'", warning.hint)

    def test_an_async_process_view_swapped_in_costs_nothing(self):
        """A class that puts an async aprocess_view in place of its sync
        process_view, with an async __acall__: no warning."""
        self.assertEqual(
            costs(MIDDLEWARE=[*settings.MIDDLEWARE, f"{__name__}.Viewing"]), {}
        )

    def test_libraries_middleware(self):
        """WhiteNoise's middleware is sync-only: a Warning. django-cors-headers'
        has an async path of its own: none."""
        found = costs(
            MIDDLEWARE=[
                "corsheaders.middleware.CorsMiddleware",
                *settings.MIDDLEWARE,
                "whitenoise.middleware.WhiteNoiseMiddleware",
            ]
        )
        self.assertEqual(
            set(found),
            {("leanasgi.W001", "whitenoise.middleware.WhiteNoiseMiddleware")},
        )
        self.assertIn("sync-only", next(iter(found.values())).msg)

    def test_a_sync_request_started_receiver_is_named(self):
        """A sync receiver of request_started: a Warning naming it; an async
        one, and Django's own two (which the handler moves), none."""
        request_started.connect(on_start)
        request_started.connect(on_start_async)
        try:
            found = costs()
        finally:
            request_started.disconnect(on_start)
            request_started.disconnect(on_start_async)
        self.assertEqual(set(found), {("leanasgi.W002", f"{__name__}.on_start")})
