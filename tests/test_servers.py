"""The site under each of the five ways to serve it, as real processes."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest

from harness.servers import (
    ASGI_SERVERS,
    BASE_DIR,
    DJANGO_SERVERS,
    PRODUCTION_ENV,
    free_port,
    output,
    running,
    serve,
    serve_process,
)

pytestmark = pytest.mark.slow  # each test starts real processes

SAY_AFTER = "/api/say-after?delay=0&word=hello"


async def timed_gets(base_url, path, count):
    """`count` concurrent GETs of `path`; the responses and the seconds they took."""
    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(
        base_url=base_url, limits=limits, timeout=30
    ) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.get(path) for _ in range(count)))
        return responses, time.monotonic() - started


@pytest.mark.parametrize("server", DJANGO_SERVERS)
def test_server_serves_the_site(server):
    """Each server answers the index, the seed's URL, a plain view and static files."""
    with serve(server) as url:
        index = httpx2.get(url + "/")
        assert index.status_code == 200
        assert "/api/say-after" in index.text

        assert httpx2.get(url + SAY_AFTER).json() == {"saying": "hello"}
        # Under every ASGI server a sync view runs on a thread the lean handler
        # lent its request (leanasgi's handler names them request-N).
        sync = httpx2.get(url + "/api/say-sync?delay=0&word=hi")
        lent = sync.headers["X-View-Thread"].startswith("request-")
        assert lent == (server in ASGI_SERVERS), sync.headers["X-View-Thread"]
        plain = httpx2.get(url + "/aggregator/say-after/async/?delay=0&word=hi")
        assert plain.json() == {"saying": "hi"}
        bad = httpx2.get(url + "/api/say-after?delay=-1&word=hello")
        assert bad.status_code == 422
        # The fan-out's default upstream is this same server, wherever it listens.
        fan_out = httpx2.get(url + "/aggregator/bounded/?n=3&delay=0", timeout=15)
        assert (fan_out.status_code, fan_out.json()["errors"]) == (200, 0)

        docs = httpx2.get(url + "/api/docs")
        assert docs.status_code == 200
        css = httpx2.get(url + "/static/ninja/swagger-ui.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        admin_css = httpx2.get(url + "/static/admin/css/base.css")
        assert admin_css.status_code == 200


@pytest.mark.parametrize("path", ["/api/say-after", "/api/say-sync"])
def test_one_uvicorn_worker_overlaps_async_and_sync_views(path):
    """10 concurrent 1 s requests take under 1.6 s on one uvicorn worker, sync
    ones too, each sync one on a thread of its own.

    Django gives every ASGI request its own thread context, so sync views are
    not serialized behind one another as they were in 2020.
    """
    with serve("uvicorn") as url:
        responses, elapsed = asyncio.run(timed_gets(url, f"{path}?delay=1&word=hi", 10))
    assert [r.status_code for r in responses] == [200] * 10
    assert 1 <= elapsed < 1.6
    if path == "/api/say-sync":
        threads = {r.headers["X-View-Thread"] for r in responses}
        assert len(threads) == 10


def test_one_sync_gunicorn_worker_serializes():
    """5 concurrent 1 s sync requests take >= 4.5 s on 1 gunicorn worker x 1 thread."""
    with serve("gunicorn", "--workers", "1", "--threads", "1") as url:
        responses, elapsed = asyncio.run(
            timed_gets(url, "/api/say-sync?delay=1&word=hi", 5)
        )
    assert [r.status_code for r in responses] == [200] * 5
    assert elapsed >= 4.5


def test_make_run_serves_asgi():
    """`make run`, in development settings, serves the index and the seed URL
    via Daphne, and its task worker runs a task enqueued meanwhile, which
    the API reports SUCCESSFUL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    development = dict.fromkeys(PRODUCTION_ENV)  # None: unset each variable
    command = ["make", "-s", "run", f"PORT={port}"]
    with running(command, url, env=development, timeout=120):
        index = httpx2.get(url + "/")
        assert index.status_code == 200
        assert index.headers["server"] == "daphne"
        assert httpx2.get(url + SAY_AFTER).json() == {"saying": "hello"}
        # The API's recount wants a login; the shell enqueues the same task.
        enqueue = "from blog.tasks import recount_author as r; print(r.enqueue(1).id)"
        shell = [sys.executable, "manage.py", "shell", "-c", enqueue]
        environment = {k: v for k, v in os.environ.items() if k not in development}
        task = subprocess.run(
            shell,
            cwd=BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]  # the id, after what the shell may print first
        deadline, status = time.monotonic() + 15, None
        while time.monotonic() < deadline and status != "SUCCESSFUL":
            status = httpx2.get(f"{url}/api/blog/tasks/{task}").json()["status"]
            time.sleep(0.2)
        assert status == "SUCCESSFUL"


@pytest.mark.parametrize("server", [s for s in ASGI_SERVERS if s != "runserver"])
def test_sigterm_runs_the_lifespan_shutdown(server, tmp_path):
    """On SIGTERM every ASGI server but Daphne runs the apps' shutdown hooks
    (the fan-out's shared clients, the live likes' Redis) to their end, then
    exits within 10 s; Daphne speaks no lifespan, so it runs none."""
    marker = tmp_path / "shutdown"
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.probe_settings",
        "PROBE_SHUTDOWN_FILE": str(marker),
    }
    with serve_process(server, env=env) as (url, process):
        assert httpx2.get(url + "/").status_code == 200  # the probe URLs load
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    ran = marker.exists() and marker.read_text() == "shut down"
    assert ran == (server != "daphne"), output(process)[-2000:]
