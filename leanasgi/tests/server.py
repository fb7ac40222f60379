"""The test project under a real uvicorn process on a free loopback port."""

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def uvicorn(env=None, timeout=20):
    """Serve tests.asgi; yield (base URL, process). `process.log()` reads its output."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=PACKAGE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
                 "LEANASGI_TEST_DB": folder, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        process.log = lambda: os.pread(log.fileno(), 1 << 20, 0).decode(
            errors="replace"
        )
        try:
            wait_until_ready(process, url, timeout)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(process, url, timeout, path="/ready"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(url + path, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not serve {url}:\n{process.log()}")


def threads(process):
    return len(os.listdir(f"/proc/{process.pid}/task"))


async def _get_all(url, count):
    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(limits=limits, timeout=30) as client:
        return await asyncio.gather(*(client.get(url) for _ in range(count)))


def get_all(url, count=1):
    """`count` concurrent GETs of `url`, each answered 200: their bodies as JSON
    (a list of objects for a body of JSON lines)."""
    answers = asyncio.run(_get_all(url, count))
    assert [a.status_code for a in answers] == [200] * count, answers[0].text
    return [
        [json.loads(item) for item in a.text.splitlines()]
        if a.headers["content-type"] == "application/x-ndjson"
        else a.json()
        for a in answers
    ]


def peak_threads(process, url, count):
    """The process's threads before, and at the peak while `count` GETs of
    `url` wait together; each is answered 200."""
    before, peak, done = threads(process), 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, threads(process))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        answers = asyncio.run(_get_all(url, count))
    finally:
        done.set()
        sampler.join()
    assert [a.status_code for a in answers] == [200] * count, answers[0].text
    return before, peak
