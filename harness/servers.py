"""Start the project under a real server process on a free loopback port.

Shared by the benchmark and by the tests that make claims about concurrency
or about a server: each claim is checked against the command a reader types,
not a test client.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Each entry: the command, with {host} and {port} filled in. Only the address
# flags differ from what README.md tells a reader to type.
COMMANDS = {
    "runserver": [sys.executable, "manage.py", "runserver", "--noreload", "{host}:{port}"],
    "runserver-wsgi": [
        sys.executable, "manage.py", "runserver", "--noreload", "--noasgi", "{host}:{port}",
    ],
    "uvicorn": [
        BIN / "uvicorn", "mysite.asgi:application", "--host", "{host}", "--port", "{port}",
    ],
    "daphne": [BIN / "daphne", "-b", "{host}", "-p", "{port}", "mysite.asgi:application"],
    "gunicorn": [BIN / "gunicorn", "mysite.wsgi:application", "--bind", "{host}:{port}"],
    "gunicorn-uvicorn": [
        BIN / "gunicorn", "mysite.asgi:application",
        "-k", "uvicorn_worker.UvicornWorker", "--bind", "{host}:{port}",
    ],
    # gunicorn 27's own ASGI worker.
    "gunicorn-asgi": [
        BIN / "gunicorn", "mysite.asgi:application", "-k", "asgi",
        "--bind", "{host}:{port}",
    ],
    "granian": [
        BIN / "granian", "--interface", "asgi", "--host", "{host}", "--port", "{port}",
        "mysite.asgi:application",
    ],
    "hypercorn": [BIN / "hypercorn", "--bind", "{host}:{port}", "mysite.asgi:application"],
    # Hypercorn in one process, no worker child: its signal handlers are the
    # application's loop's, so open streams end on SIGTERM (docs/serving.md).
    "hypercorn-single": [
        BIN / "hypercorn", "--workers", "0", "--bind", "{host}:{port}",
        "mysite.asgi:application",
    ],
    # django-bolt (bench/bolt.py): Django's ORM behind a Rust server, no handler.
    "bolt": [
        sys.executable, "manage.py", "runbolt", "--host", "{host}", "--port", "{port}",
    ],
    # Not Django: the bare ASGI app that is the benchmark's floor and upstream.
    "raw-asgi": [
        BIN / "uvicorn", "bench.rawasgi:app", "--host", "{host}", "--port", "{port}",
    ],
}  # fmt: skip
DJANGO_SERVERS = [name for name in COMMANDS if name not in ("raw-asgi", "bolt")]
ASGI_SERVERS = [
    "runserver", "uvicorn", "daphne", "gunicorn-uvicorn", "gunicorn-asgi", "granian",
    "hypercorn", "hypercorn-single",
]  # fmt: skip

# Production-like: DEBUG off, plain HTTP on loopback; with the harmful demos
# and the diagnostic headers on, which the tests and figures measure. The
# tests of production itself unset those two (test_production.py).
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "test-only-secret-key-" + "x" * 40,
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_HTTPS": "0",
    "DJANGO_DEMOS": "1",
    "DJANGO_DIAGNOSTIC_HEADERS": "1",
}
# What a deployment sets and no more: the demos and diagnostics off.
BARE_PRODUCTION = {"DJANGO_DEMOS": None, "DJANGO_DIAGNOSTIC_HEADERS": None}
# The header and cookie of a page of this site, for Django's CSRF check on
# the API's writes: a page on another site can send neither.
CSRF = {"X-CSRFToken": "t" * 32, "Cookie": "csrftoken=" + "t" * 32}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command_for(name, port, *extra_args):
    """Server `name`'s command line on `port`, with `extra_args` after it."""
    filled = [str(part).format(host="127.0.0.1", port=port) for part in COMMANDS[name]]
    return [*filled, *extra_args]


def serve(name, *extra_args, env=None, timeout=30, cwd=None):
    """Run server `name` with `extra_args`; a context manager yielding its base URL.
    `cwd`: another checkout of the project to serve (bench/compare.py)."""
    port = free_port()
    command = command_for(name, port, *extra_args)
    url = f"http://127.0.0.1:{port}"
    return running(command, url, env=env, timeout=timeout, cwd=cwd)


@contextlib.contextmanager
def serve_process(name, *extra_args, env=None, timeout=30):
    """Like serve(), yielding (its base URL, its process) for those that watch it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = command_for(name, port, *extra_args)
    with started(command, url, env=env, timeout=timeout) as process:
        yield url, process


@contextlib.contextmanager
def running(command, url, *, env=None, ready_path="/healthz", timeout=30, cwd=None):
    """Run `command` in the project folder until `url` answers; yield `url`; stop it."""
    with started(
        command, url, env=env, ready_path=ready_path, timeout=timeout, cwd=cwd
    ):
        yield url


@contextlib.contextmanager
def started(command, url, *, env=None, ready_path="/healthz", timeout=30, cwd=None):
    """Like running(), yielding the process: its pid is its process group's id.

    The environment is this one, made production-like (PRODUCTION_ENV), then
    `env`; a value of None in `env` unsets that variable.
    """
    merged = {**os.environ, **PRODUCTION_ENV, **(env or {}), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            cwd=cwd or BASE_DIR,
            env={key: value for key, value in merged.items() if value is not None},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log = log  # read it with output(process)
        try:
            _wait_until_ready(process, url + ready_path, timeout, log)
            yield process
        finally:
            _stop(process)


def output(process):
    """What a started() server has printed so far."""
    # pread leaves the file offset alone: the server writes at that same offset.
    size = os.fstat(process.log.fileno()).st_size
    return os.pread(process.log.fileno(), size, 0).decode(errors="replace")


def _wait_until_ready(process, url, timeout, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx2.get(url, timeout=1).status_code < 500:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    log.seek(0)
    output = log.read().decode(errors="replace")
    raise RuntimeError(f"{process.args} did not serve {url}:\n{output}")


def _stop(process):
    # The whole process group: gunicorn's and uvicorn's workers too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
