"""A project with no contrib app at all (an API-only service) can serve with
the lean handler and list the Security and Common twins: nothing imports
django.contrib.auth or its models unless an auth class is named."""

import subprocess
import sys
import textwrap

from .server import PACKAGE_DIR

PROJECT = textwrap.dedent(
    """
    import asyncio, sys
    from django.conf import settings
    from django.http import JsonResponse
    from django.urls import path

    async def hello(request):
        return JsonResponse({"hello": "world"})

    urlpatterns = [path("hello", hello)]
    settings.configure(
        DEBUG=False, SECRET_KEY="x" * 50, ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[], ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "leanasgi.middleware.SecurityMiddleware",
            "leanasgi.middleware.CommonMiddleware",
        ],
    )
    import leanasgi
    from asgiref.testing import ApplicationCommunicator

    async def get():
        scope = {"type": "http", "method": "GET", "path": "/hello", "headers": [
            (b"host", b"testserver")], "query_string": b"", "asgi": {"version": "3.0"}}
        app = ApplicationCommunicator(leanasgi.get_asgi_application(), scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(5)
        body = await app.receive_output(5)
        return start["status"], body["body"]

    print(asyncio.run(get()))
    print(sorted(m for m in sys.modules if m.startswith("django.contrib")))
    """
)


def test_no_contrib_app_is_needed():
    """Served through the package with INSTALLED_APPS empty: a 200 with the
    view's JSON; neither django.contrib.auth nor any contrib app's models
    were imported (the sessions' and messages' middleware modules, which
    need no app, may be)."""
    done = subprocess.run(
        [sys.executable, "-c", PROJECT],
        cwd=PACKAGE_DIR / "src",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    answer, contrib = done.stdout.splitlines()
    assert answer == '(200, b\'{"hello": "world"}\')', answer
    assert "django.contrib.auth" not in contrib, contrib
    assert ".models'" not in contrib, contrib


def test_the_auth_classes_load_when_named():
    """Naming an auth class is what imports django.contrib.auth; without
    its apps installed Django's own error says so."""
    code = (
        "from django.conf import settings; settings.configure(INSTALLED_APPS=[]);"
        "import django; django.setup(); import leanasgi.middleware as m;"
        "m.AuthenticationMiddleware"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE_DIR / "src",
        capture_output=True,
        text=True,
    )
    assert "isn't in an application in INSTALLED_APPS" in done.stderr, done.stderr
