"""Run two real projects' own test suites, stock and with leanasgi swapped in.

    python third_party_suites.py      # from this folder: `make third-party`

The first run makes a virtualenv in .third-party/ (git ignores it) with the
pinned Django, the projects' test requirements and this package (not
editable), and fetches each project's sdist once. Each suite then runs
twice, as its own CI runs it: stock, and through a runner that, right after
django.setup(), swaps in the package's handler and middleware twins as
django_suites.py does. A swapped run counts the requests that went through
the twins, so a swap that did not take shows as 0.

Their test clients use Django's test handlers, not an ASGI handler, so these
runs judge the middleware twins, not LeanASGIHandler (django_suites.py's
handler group and the package's own tests judge that).
"""

import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".third-party"
VENV = WORK / "venv"
PYTHON = VENV / "bin" / "python"
DJANGO = "6.1.3"
REQUIREMENTS = [
    f"Django=={DJANGO}", "asgiref==3.13.0", "pytest==9.2.0", "pytest-django==4.14.0",
    # django-debug-toolbar's dev group (tox.ini), less its own tooling
    "sqlparse==0.6.1", "pygments==2.21.0", "django-csp==4.0",
    "django-template-partials==25.3", "html5lib==1.1", "Jinja2==3.1.6",
    "selenium==4.51.0", "whitenoise==6.12.0",
    # django-allauth's test session (noxfile.py), SAML left out as its CI does
    "pytest-asyncio==1.3.0", "pillow==13.0.0", "PyYAML==6.0.4",
    "psycopg2-binary==2.9.13", "djangorestframework==3.18.3", "django-ninja==1.7.1",
    "qrcode==8.2", "fido2==2.2.1", "python3-openid==3.2.0", "oauthlib==4.0.1",
    "requests==2.34.2", "PyJWT[crypto]==2.15.1", "cryptography==50.0.2",
]  # fmt: skip
SDISTS = {"django-debug-toolbar": "8.0.0", "django-allauth": "65.22.1"}
# tox.ini's warnings for debug-toolbar: its deprecations are errors.
TOOLBAR_WARNINGS = (
    "error::ResourceWarning,error::DeprecationWarning,"
    "error::PendingDeprecationWarning,"
    "ignore:The RedirectsPanel is deprecated:DeprecationWarning,"
    "ignore:The 'partial'and 'partialdef' template tags are now part of Django"
    " core:DeprecationWarning,"
    "ignore:Importing MiddlewareMixin from django.utils.deprecation is deprecated"
)
SUITES = [
    # (name, source folder, command after `python`, environment)
    ("django-debug-toolbar 8.0.0", "django_debug_toolbar-8.0.0",
     ["-b", "-m", "django", "test", "--noinput", "tests"],
     {"DJANGO_SETTINGS_MODULE": "tests.settings", "DB_BACKEND": "sqlite3",
      "PYTHONWARNINGS": TOOLBAR_WARNINGS}),
    ("django-allauth 65.22.1, regular", "django_allauth-65.22.1",
     ["-m", "pytest", "-p", "no:cacheprovider", "-q",
      "--ds=tests.projects.regular.settings", "tests/"], {}),
    ("django-allauth 65.22.1, headless only", "django_allauth-65.22.1",
     ["-m", "pytest", "-p", "no:cacheprovider", "-q",
      "--ds=tests.projects.headless_only.settings", "tests/"], {}),
]  # fmt: skip


def prepare():
    """The virtualenv and the unpacked sources, made once."""
    WORK.mkdir(exist_ok=True)
    if not (VENV / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], check=True)
        pip = [PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *REQUIREMENTS], check=True)
        (VENV / ".ready").touch()
    # The package as it is now, every run: the suites judge this checkout.
    subprocess.run(
        [PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--force-reinstall", HERE],
        check=True,
    )  # fmt: skip
    for name, version in SDISTS.items():
        folder = WORK / f"{name.replace('-', '_')}-{version}"
        if not folder.exists():
            subprocess.run(
                [PYTHON, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", "--disable-pip-version-check",
                 f"{name}=={version}", "-d", WORK],
                check=True,
            )  # fmt: skip
            with tarfile.open(WORK / f"{folder.name}.tar.gz") as archive:
                archive.extractall(WORK, filter="data")


def inside(args):
    """In the suite's process: swap after django.setup(), count, then run
    `python -m MODULE ARGS` as the suite's own command line would."""
    import atexit
    import runpy

    import django
    from django.utils.deprecation import MiddlewareMixin

    sys.path.insert(0, str(HERE))
    import django_suites

    setup = django.setup
    served = {"sync": 0}

    def setup_then_swap(*a, **kw):
        setup(*a, **kw)
        django.setup = setup
        django_suites.swap("handler")
        django_suites.swap("middleware")
        from leanasgi.middleware import OnTheLoop

        call = MiddlewareMixin.__call__

        def counted(self, request):
            if isinstance(self, OnTheLoop) and not self.async_mode:
                served["sync"] += 1
            return call(self, request)

        MiddlewareMixin.__call__ = counted
        atexit.register(
            lambda: print(
                f"leanasgi: {served['sync']} sync requests through leanasgi middleware"
            )
        )

    django.setup = setup_then_swap
    module, *rest = args
    sys.path[0] = os.getcwd()
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def tally(output):
    """(tests, passed, skipped) from unittest's or pytest's summary."""
    if ran := re.search(r"^Ran (\d+) tests?", output, re.M):
        skipped = re.search(r"skipped=(\d+)", output)
        total, skips = int(ran[1]), int(skipped[1]) if skipped else 0
        failed = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", output))
        return total, total - skips - failed, skips
    counts = dict(
        (word, int(number))
        for number, word in re.findall(
            r"(\d+) (passed|failed|skipped|errors?)\b", output
        )
    )
    passed, skipped = counts.get("passed", 0), counts.get("skipped", 0)
    return passed + skipped + counts.get("failed", 0), passed, skipped


def run(name, folder, command, env, swapped):
    started = time.monotonic()
    prefix = [Path(__file__).resolve(), "--inside"] if swapped else []
    if swapped and command[0] == "-b":
        prefix, command = ["-b", *prefix], command[1:]
    command = [c for c in command if not (swapped and c == "-m")]
    result = subprocess.run(
        [PYTHON, *prefix, *command],
        cwd=WORK / folder,
        env={**os.environ, "PYTHONPATH": str(WORK / folder), **env},
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    tests, passed, skipped = tally(output)
    through = sum(
        int(n) for n in re.findall(r"^leanasgi: (\d+) .*middleware$", output, re.M)
    )
    ok = result.returncode == 0 and tests > 0 and (not swapped or through > 0)
    if not ok:
        print(output[-4000:])
    mode = "swapped" if swapped else "stock"
    print(
        f"| {name} | {mode} | {tests} | {passed} | {skipped} |"
        f" {'OK' if ok else 'FAILED'} | {time.monotonic() - started:.0f} s |"
        f" {through if swapped else ''} |",
        flush=True,
    )
    return ok


def main(argv):
    if argv[:1] == ["--inside"]:
        return inside(argv[1:])
    prepare()
    print(
        f"# Django {DJANGO}, Python {sys.version.split()[0]}; `python third_party_suites.py`"
    )
    print(
        "| suite | run | tests | passed | skipped | result | time | calls through the twins |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = [run(*suite, swapped=swapped) for suite in SUITES for swapped in (False, True)]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
