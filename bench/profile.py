"""Where one worker's CPU goes under trivial load: a flame graph.

`make profile` serves the site on one uvicorn worker (production settings,
lean handler), sends `GET /api/say-after?delay=0&word=hello` from 20 clients
at once, and records the worker with py-spy: once as a flame graph
(docs/figures/profile.svg, open it in a browser: each box is a function,
its width the share of samples in it and what it called), once as raw stacks,
summarised by layer in docs/figures/profile.txt. DJANGO_STOCK=1 profiles
Django as shipped instead (profile-stock.*); `ARGS="--server granian"`
one Granian worker (profile-granian.*).
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
RATE = 200  # samples a second

# A sample of the loop's thread belongs to the innermost frame, among those
# the loop ran, that one of these names: (label, texts a frame's
# "function (file:line)" may hold). uvicorn comes first: its own
# proxy_headers middleware is not the site's. A sample of any other thread
# is counted apart: on the lean path they are the few request threads.
LAYERS = [
    ("uvicorn: HTTP parsing, protocol", ("uvicorn/", "httptools")),
    ("Granian: its Python side (futures, lifespan)", ("granian/",)),
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
]
# The frames up to the loop's run (uvicorn's main and asyncio.run; Granian's
# worker start) are in a sample of a callback the loop runs; what it ran
# comes after the last of them. A task's coroutine, resumed from C, has
# none of them, and all its frames are what the loop ran.
LOOP_RUN = ("asyncio/runners.py", "granian/server/mp.py")
LOOP_ITSELF = "the loop itself (in C or Rust: sockets, polling)"


def classify(stack, processes=0):
    """(thread, layer) of one raw sample, from the worker `processes` deep
    (Granian's: 2, under its supervisor; uvicorn's: 0, no process frames).
    thread is "loop" for the worker's main thread, "other" for any other
    thread or process, "unreadable" for another thread with no Python stack
    (a Rust thread, or a read that py-spy --nonblocking missed)."""
    frames = stack.split(";")
    # With --subprocesses each stack starts with its process and its parents.
    depth = sum(frame.startswith("process ") for frame in frames)
    thread, *frames = frames[depth:] or [""]
    if depth != processes or not thread.endswith(": MainThread"):
        return ("other" if frames else "unreadable"), None
    runs = [i for i, frame in enumerate(frames) if frame_of(frame, LOOP_RUN)]
    frames = frames[runs[-1] + 1 :] if runs else frames
    for frame in reversed(frames):  # innermost first
        for label, texts in LAYERS:
            if frame_of(frame, texts):
                return "loop", label
    return "loop", LOOP_ITSELF if not frames else "other Python (asyncio, stdlib)"


def frame_of(frame, texts):
    return any(text in frame for text in texts)


def record(pid, seconds, fmt, out, children=False):
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            str(RATE),
            "--format",
            fmt,
            "--output",
            str(out),
            "--nonblocking",
            # Each raw stack starts with its thread; the picture stays whole.
            *(["--threads"] if fmt == "raw" else []),
            # Granian's worker is a child of the process it starts from.
            *(["--subprocesses"] if children else []),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"py-spy failed: {done.stderr[-2000:]}")


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
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    args = parser.parse_args(argv)
    stock = os.environ.get("DJANGO_STOCK") == "1"
    name = "profile" + ("-stock" if stock else "")
    name += "" if args.server == "uvicorn" else f"-{args.server}"
    command = "make profile" + (" DJANGO_STOCK=1" if stock else "")
    command += "" if args.server == "uvicorn" else f' ARGS="--server {args.server}"'
    server = {"uvicorn": "uvicorn", "granian": "Granian"}[args.server]
    figures = BASE_DIR / "docs" / "figures"
    summary = []
    environment = {"DJANGO_STOCK": "1" if stock else "0"}
    # Granian's worker runs under its supervisor, under the process we start.
    depth = 2 if args.server == "granian" else 0
    with serve_process(args.server, env=environment) as (url, process):
        load.run(f"{url}{TARGET}", concurrency=20, requests=500)  # warm up
        with tempfile.TemporaryDirectory() as folder:
            raw = Path(folder) / "raw.txt"
            for fmt, out in (("flamegraph", figures / f"{name}.svg"), ("raw", raw)):
                thread, outcome = under_load(url, args.seconds + 2)
                record(process.pid, args.seconds, fmt, out, children=depth > 0)
                thread.join()
                run = outcome["run"]
                summary.append(
                    f"{fmt}: {len(run.latencies) / run.elapsed:.0f} requests/s"
                    f" under the profiler, {run.failed} failed"
                )
            counts = collections.Counter()
            for line in raw.read_text().splitlines():
                stack, _, samples = line.rpartition(" ")
                counts[classify(stack, depth)] += int(samples)
    loop = {layer: n for (thread, layer), n in counts.items() if thread == "loop"}
    on_loop = sum(loop.values())
    others = counts[("other", None)]
    # py-spy leaves out a thread's samples while the OS has it waiting (no
    # --idle): the loop's poll, a pool thread's empty queue. So the loop's
    # samples against the nominal count are the share of time it was busy,
    # or blocked in a way the OS does not call waiting (a lock's short spin).
    ticks = RATE * args.seconds
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"# {now}, Python {platform.python_version()}, Django {version('django')},"
        f" {args.server} {version(args.server)}, py-spy {version('py-spy')},"
        f" {os.cpu_count()} CPUs; written by `{command}`",
        f"GET {TARGET}, 20 clients, one {server} worker"
        f" ({'Django as shipped' if stock else 'lean'}); py-spy at {RATE} Hz"
        f" for {args.seconds} s, waiting threads left out; the picture: {name}.svg",
        *summary,
        f"the loop's thread was busy {on_loop / ticks * 100:.0f}% of the time"
        f" ({on_loop} of a nominal {ticks} samples);"
        f" every other thread and process together, {others / ticks * 100:.0f}%"
        " of one core"
        f"; {counts[('unreadable', None)]} samples had no Python stack"
        " (Granian's Rust threads, or a read py-spy missed)",
        f"{'share of the loop thread busy samples, by layer':<52}  {'%':>5}",
    ]
    for label, samples in sorted(loop.items(), key=lambda item: -item[1]):
        lines.append(f"{label:<52}  {samples / on_loop * 100:5.1f}")
    text = "\n".join(lines) + "\n"
    (figures / f"{name}.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
