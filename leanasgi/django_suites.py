"""Run Django's own test suites with leanasgi swapped in for Django's classes.

    python django_suites.py            # both groups, on the installed Django
    python django_suites.py handler    # one group

The first run downloads the installed Django version's sdist with pip and
keeps its tests/ folder in .django-tests/<version>/ (git ignores it). Each
group runs Django's runtests.py in a process of its own in which, right after
django.setup(), Django's classes are replaced by the package's:

- handler: django.core.handlers.asgi.ASGIHandler (and the name that
  django.core.asgi.get_asgi_application() builds) is LeanASGIHandler;
- middleware: each of Django's middleware classes that leanasgi twins is
  leanasgi's subclass, under Django's own dotted path.

A Django test that fails on purpose would be listed in CHANGED_ON_PURPOSE
with the reason and excluded by name; today the list is empty.
"""

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

HERE = Path(__file__).resolve().parent
GROUPS = {
    "handler": ["asgi", "handlers", "signals", "requests_tests"],
    "middleware": [
        "csrf_tests",
        "middleware",
        "sessions_tests",
        "messages_tests",
        "middleware_exceptions",
        "auth_tests.test_middleware",
        "deprecation.test_middleware_mixin",
        "i18n.patterns",
        "i18n.tests",
        "test_client",
        "test_client_regress",
    ],
}
CHANGED_ON_PURPOSE = {}  # "label.Class.test": "why leanasgi differs"

MIDDLEWARE = {
    "django.middleware.security": ["SecurityMiddleware"],
    "django.contrib.sessions.middleware": ["SessionMiddleware"],
    "django.middleware.locale": ["LocaleMiddleware"],
    "django.middleware.common": ["CommonMiddleware", "BrokenLinkEmailsMiddleware"],
    "django.middleware.gzip": ["GZipMiddleware"],
    "django.middleware.http": ["ConditionalGetMiddleware"],
    "django.middleware.csrf": ["CsrfViewMiddleware"],
    "django.contrib.auth.middleware": [
        "AuthenticationMiddleware",
        "LoginRequiredMiddleware",
    ],
    "django.contrib.messages.middleware": ["MessageMiddleware"],
    "django.middleware.clickjacking": ["XFrameOptionsMiddleware"],
    "django.middleware.csp": ["ContentSecurityPolicyMiddleware"],  # 6.0 and later
}


def django_tests():
    """Django's tests/ folder for the installed version, fetched once."""
    version = django.__version__
    folder = HERE / ".django-tests" / version
    if not (folder / "tests" / "runtests.py").exists():
        with tempfile.TemporaryDirectory() as download:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", "--disable-pip-version-check",
                 f"Django=={version}", "-d", download],
                check=True,
            )  # fmt: skip
            (sdist,) = Path(download).glob("*.tar.gz")
            with tarfile.open(sdist) as archive:
                prefix = archive.getnames()[0].split("/")[0] + "/tests/"
                members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
                for member in members:
                    member.name = member.name.removeprefix(
                        prefix.removesuffix("tests/")
                    )
                archive.extractall(folder, members=members, filter="data")
    return folder / "tests"


def swap(group):
    """Replace Django's classes with leanasgi's, as described above."""
    import importlib

    if group == "handler":
        from django.core import asgi
        from django.core.handlers import asgi as handlers_asgi

        from leanasgi import handler

        handlers_asgi.ASGIHandler = asgi.ASGIHandler = handler.LeanASGIHandler
        count_calls(
            handler.RequestExecutor, "__init__", "requests served by LeanASGIHandler"
        )
    else:
        from leanasgi import middleware

        for module, names in MIDDLEWARE.items():
            try:
                found = importlib.import_module(module)
            except ImportError:  # Django 5.2 has no CSP middleware
                continue
            for name in names:
                setattr(found, name, getattr(middleware, name))
        count_calls(
            middleware.OnTheLoop, "__acall__", "requests through leanasgi middleware"
        )


def count_calls(cls, method, what):
    """Count calls of cls.method in this process, and say how many at exit, so
    that a swap that did not take shows as 0."""
    import atexit
    import functools

    calls = 0
    original = getattr(cls, method)

    @functools.wraps(original)
    def counted(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    setattr(cls, method, counted)
    atexit.register(lambda: print(f"leanasgi: {calls} {what}", flush=True))


def inside(group, labels):
    """In the test process: swap right after django.setup(), then run Django's
    runtests.py as its own command line would."""
    import runpy

    setup = django.setup

    def setup_then_swap(*args, **kwargs):
        setup(*args, **kwargs)
        django.setup = setup  # runtests.py may set up again: swap only once
        swap(group)

    django.setup = setup_then_swap
    tests = django_tests()
    sys.path.insert(0, str(tests))
    sys.argv = [str(tests / "runtests.py"), "--noinput", "--parallel=1", *labels]
    for test in CHANGED_ON_PURPOSE:
        sys.argv += ["-k", f"not {test}"]
    runpy.run_path(str(tests / "runtests.py"), run_name="__main__")


def run(group):
    """Run one group; return (tests run, skipped, passed?) and print Django's tally."""
    tests = django_tests()
    result = subprocess.run(
        [sys.executable, __file__, "--inside", group, *GROUPS[group]],
        cwd=tests,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    ran = re.search(r"^Ran (\d+) tests? in ([\d.]+)s", output, re.M)
    skipped = re.search(r"skipped=(\d+)", output)
    served = re.search(r"^leanasgi: (\d+) (.*)$", output, re.M)
    if result.returncode or not ran or not served:
        print(output[-6000:])
    count = int(ran[1]) if ran else 0
    print(
        f"Django {django.__version__}, {group} suites ({', '.join(GROUPS[group])}): "
        f"{count} tests, {int(skipped[1]) if skipped else 0} skipped, "
        f"{'OK' if result.returncode == 0 else 'FAILED'} in {ran[2] if ran else '?'} s;"
        f" {served[1] if served else 0} {served[2] if served else 'through leanasgi'}"
    )
    return result.returncode == 0 and count > 0 and served and int(served[1]) > 0


def main(argv):
    if argv[:1] == ["--inside"]:
        return inside(argv[1], argv[2:])
    groups = argv or list(GROUPS)
    ok = [run(group) for group in groups]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
