"""Where one uvicorn worker's CPU goes under trivial load: a flame graph.

`make profile` serves the site on one uvicorn worker (production settings,
lean handler), sends `GET /api/say-after?delay=0&word=hello` from 20 clients
at once, and records the worker with py-spy: once as a flame graph
(docs/figures/profile.svg, open it in a browser: each box is a function,
its width the share of samples in it and what it called), once as raw stacks,
summarised by layer in docs/figures/profile.txt. DJANGO_STOCK=1 profiles
Django as shipped instead (profile-stock.*).
"""

import argparse
import collections
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import threading
from importlib.metadata import version
from pathlib import Path

from harness.servers import BASE_DIR, serve_process

from . import load

TARGET = "/api/say-after?delay=0&word=hello"

# A sample belongs to the innermost frame of its stack that one of these
# names: (label, texts a frame's "function (file:line)" may hold).
LAYERS = [
    ("ninja: the operation (validate, view, response)", ("ninja/",)),
    ("URL resolving", ("urls/resolvers.py",)),
    (
        "middleware (the site's, Django's, leanasgi's twins)",
        ("middleware", "leanasgi/hooks.py", "core/handlers/exception.py"),
    ),
    ("Django: get_response", ("core/handlers/base.py",)),
    ("Django: the ASGI handler (request, send, close)", ("core/handlers/asgi.py",)),
    ("leanasgi: thread context, executor", ("leanasgi/",)),
    ("asgiref", ("asgiref/",)),
    ("servestatic", ("servestatic/",)),
    ("uvicorn: HTTP parsing, protocol", ("uvicorn/", "httptools")),
]


def classify(stack):
    for frame in reversed(stack.split(";")):  # innermost first
        for label, texts in LAYERS:
            if any(text in frame for text in texts):
                return label
    return "the event loop, idle or in C (uvloop)"


def record(pid, seconds, fmt, out):
    subprocess.run(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            fmt,
            "--output",
            str(out),
            "--nonblocking",
        ],
        check=True,
        capture_output=True,
    )


def under_load(url, seconds, clients=20):
    """Load on a thread of its own while py-spy records."""
    outcome = {}

    def drive():
        outcome["run"] = load.run(
            f"{url}{TARGET}", concurrency=clients, duration=seconds
        )

    thread = threading.Thread(target=drive)
    thread.start()
    return thread, outcome


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__
    )
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args(argv)
    stock = os.environ.get("DJANGO_STOCK") == "1"
    name = "profile-stock" if stock else "profile"
    figures = BASE_DIR / "docs" / "figures"
    summary = []
    with serve_process("uvicorn", env={"DJANGO_STOCK": "1" if stock else "0"}) as (
        url,
        process,
    ):
        load.run(f"{url}{TARGET}", concurrency=20, requests=500)  # warm up
        with tempfile.TemporaryDirectory() as folder:
            raw = Path(folder) / "raw.txt"
            for fmt, out in (("flamegraph", figures / f"{name}.svg"), ("raw", raw)):
                thread, outcome = under_load(url, args.seconds + 2)
                record(process.pid, args.seconds, fmt, out)
                thread.join()
                run = outcome["run"]
                summary.append(
                    f"{fmt}: {len(run.latencies) / run.elapsed:.0f} requests/s"
                    f" under the profiler, {run.failed} failed"
                )
            counts = collections.Counter()
            for line in raw.read_text().splitlines():
                stack, _, samples = line.rpartition(" ")
                counts[classify(stack)] += int(samples)
    total = sum(counts.values())
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"# {now}, Python {platform.python_version()}, Django {version('django')},"
        f" uvicorn {version('uvicorn')}, py-spy {version('py-spy')},"
        f" {os.cpu_count()} CPUs; written by `make profile"
        f"{' DJANGO_STOCK=1' if stock else ''}`",
        f"GET {TARGET}, 20 clients, one uvicorn worker"
        f" ({'Django as shipped' if stock else 'lean'}); py-spy at 200 Hz"
        f" for {args.seconds} s; the picture: {name}.svg",
        *summary,
        f"{'share of the worker samples, by innermost layer':<52}  {'%':>5}",
    ]
    for label, samples in counts.most_common():
        lines.append(f"{label:<52}  {samples / total * 100:5.1f}")
    text = "\n".join(lines) + "\n"
    (figures / f"{name}.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
