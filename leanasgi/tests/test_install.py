"""`pip install ./leanasgi` into a fresh virtualenv, beside a project that
`django-admin startproject` made, changed only as README.md says, with three
more of Django's middleware as their twins: 500 waiting requests add at most
20 threads, and a project's own MiddlewareMixin class gets a check warning."""

import os
import re
import subprocess
import venv

import django
import httpx2
import pytest

from .server import PACKAGE_DIR, free_port, peak_threads, wait_until_ready

ASYNC_VIEW = """
import asyncio
import threading

from django.http import JsonResponse


async def hello(request):
    await asyncio.sleep(0.1)
    return JsonResponse({"hello": "world", "thread": threading.current_thread().name})


urlpatterns.append(path("hello", hello))
"""

WAITING_VIEW = """

async def wait(request):
    await asyncio.sleep(2)
    return JsonResponse({"waited": True})


urlpatterns.append(path("wait", wait))
"""

# Three more of Django's middleware, as their twins, and a project's own
# MiddlewareMixin class when WITH_TIMING is set.
MORE_MIDDLEWARE = """
import os

MIDDLEWARE += [
    "leanasgi.middleware.LocaleMiddleware",
    "leanasgi.middleware.GZipMiddleware",
    "leanasgi.middleware.ConditionalGetMiddleware",
]
if os.environ.get("WITH_TIMING"):
    MIDDLEWARE.append("mysite.timing.Timing")
"""

TIMING = """
from django.utils.deprecation import MiddlewareMixin


class Timing(MiddlewareMixin):
    def process_request(self, request):
        request.timing = True
"""

ASGI = """
import os

import leanasgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
application = leanasgi.get_asgi_application()
"""


def adopt(settings):
    """The two changes README.md's "Install" asks of settings.py."""
    settings = settings.replace(
        "    'django.contrib.staticfiles',\n",
        "    'django.contrib.staticfiles',\n    'leanasgi',\n",
    ).replace(
        '    "django.contrib.staticfiles",\n',
        '    "django.contrib.staticfiles",\n    "leanasgi",\n',
    )
    return re.sub(
        r"['\"]django\.(?:middleware|contrib)\.[a-z.]+\.(\w+Middleware)['\"]",
        r'"leanasgi.middleware.\1"',
        settings,
    )


@pytest.mark.slow
def test_a_fresh_startproject_serves_an_async_view_through_the_package(tmp_path):
    """A new virtualenv gets Django, uvicorn and the package (not editable);
    a startproject project adopts it and serves an async view under uvicorn."""
    # What this test process was set up with is not the new project's.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, f"Django=={django.__version__}", "uvicorn==0.54.0", str(PACKAGE_DIR)],
        env=env,
        check=True,
    )
    where = subprocess.run(
        [python, "-c", "import leanasgi; print(leanasgi.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path, env=env,
    ).stdout  # fmt: skip
    assert where.startswith(str(tmp_path / "venv")), where

    (tmp_path / "site").mkdir()  # Django 5.2 wants the folder to exist
    subprocess.run(
        [tmp_path / "venv" / "bin" / "django-admin", "startproject", "mysite", tmp_path / "site"],
        env=env,
        check=True,
    )  # fmt: skip
    project = tmp_path / "site" / "mysite"
    settings = adopt((project / "settings.py").read_text())
    (project / "settings.py").write_text(settings + MORE_MIDDLEWARE)
    (project / "timing.py").write_text(TIMING)
    (project / "asgi.py").write_text(ASGI)
    with (project / "urls.py").open("a") as urls:
        urls.write(ASYNC_VIEW + WAITING_VIEW)
    assert (
        "leanasgi.middleware.SessionMiddleware" in (project / "settings.py").read_text()
    )
    check = subprocess.run(
        [python, "manage.py", "check"], cwd=tmp_path / "site", env=env,
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert "leanasgi.W001" not in check.stdout + check.stderr
    warned = subprocess.run(
        [python, "manage.py", "check"], cwd=tmp_path / "site",
        env={**env, "WITH_TIMING": "1"}, capture_output=True, text=True,
    )  # fmt: skip
    assert "leanasgi.W001" in warned.stderr, warned.stdout + warned.stderr
    assert "'mysite.timing.Timing'" in warned.stderr

    port = free_port()
    server = subprocess.Popen(
        [python, "-m", "uvicorn", "mysite.asgi:application", "--port", str(port)],
        cwd=tmp_path / "site",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server.log = lambda: ""
    try:
        wait_until_ready(server, f"http://127.0.0.1:{port}", 20, path="/hello")
        answer = httpx2.get(f"http://127.0.0.1:{port}/hello", timeout=5).json()
        before, peak = peak_threads(server, f"http://127.0.0.1:{port}/wait", 500)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert answer["hello"] == "world"
    assert answer["thread"] == "MainThread"  # an async view, on the loop's thread
    # Ten middleware, three past Django's defaults: 500 waits, no thread each.
    assert peak - before <= 20, (before, peak)
