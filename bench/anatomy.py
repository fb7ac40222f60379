"""The anatomy of one trivial async request: microseconds per layer.

`make bench ARGS=--anatomy` (or `python -m bench.anatomy`) drives
`GET /api/say-after?delay=0&word=hello` through `mysite.asgi.application` in
process, on uvloop, thousands of times: once timed without a profiler, once
under cProfile. Each layer's share of the profiled time, from cProfile's
cumulative times of the functions that bound it, is applied to the unprofiled
time per request, so the figures add up to what a request really costs. The
same request through a real uvicorn process, one at a time, gives what the
server, the socket and the client add. It runs twice, in fresh processes:
the lean handler and Django as shipped (DJANGO_STOCK=1).
"""

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

PATH = "/api/say-after"
QUERY = b"delay=0&word=hello"

# (label, how to compute it from the cumulative seconds of named functions).
# Each name is "file suffix:function"; cum() sums the matches.
LAYERS = [
    ("ServeStatic", lambda c: c("servestatic/asgi.py:__call__") - c("HANDLER")),
    (
        "handler: thread context, request task group",
        lambda c: (
            c("HANDLER")
            - c("handlers/asgi.py:read_body")
            - c("dispatch/dispatcher.py:asend")
            - c("handlers/asgi.py:create_request")
            - c("handlers/asgi.py:run_get_response")
            - c("handlers/asgi.py:send_response")
            - c("CLOSE_HOP")
        ),
    ),
    ("handler: read the body", lambda c: c("handlers/asgi.py:read_body")),
    ("request_started signal", lambda c: c("dispatch/dispatcher.py:asend")),
    ("build the HttpRequest", lambda c: c("handlers/asgi.py:create_request")),
    (
        "middleware (all, with Server-Timing)",
        lambda c: (
            c("core/handlers/exception.py:inner")
            - c("core/handlers/base.py:_get_response_async")
        ),
    ),
    ("URL resolving", lambda c: c("core/handlers/base.py:resolve_request")),
    ("ninja: validate the query", lambda c: c("ninja/operation.py:_get_values")),
    ("the view itself", lambda c: c("aggregator/api.py:say_after")),
    (
        "ninja: build the response",
        lambda c: c("ninja/operation.py:_result_to_response"),
    ),
    (
        "ninja: the rest of the operation",
        lambda c: (
            c("ninja/operation.py:_async_view")
            - c("ninja/operation.py:_get_values")
            - c("aggregator/api.py:say_after")
            - c("ninja/operation.py:_result_to_response")
        ),
    ),
    (
        "Django: the rest of get_response",
        lambda c: (
            c("core/handlers/base.py:_get_response_async")
            - c("core/handlers/base.py:resolve_request")
            - c("ninja/operation.py:_async_view")
        ),
    ),
    ("send the response", lambda c: c("handlers/asgi.py:send_response")),
    ("close the response (a thread hop)", lambda c: c("CLOSE_HOP")),
]


def scope():
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": QUERY,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def one(application):
    sent = []
    delivered = False
    never = asyncio.Event()

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()  # the client never hangs up
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await application(scope(), receive, send)
    assert sent[0]["status"] == 200, sent


async def many(application, count):
    for _ in range(count):
        await one(application)


def measure_in_process(count):
    """Run in a fresh process: this process's settings decide the handler."""
    import uvloop

    from mysite.asgi import application

    uvloop.run(many(application, 300))  # warm up: caches, first imports
    started = time.perf_counter()
    uvloop.run(many(application, count))
    wall = (time.perf_counter() - started) / count

    profile = cProfile.Profile()
    profile.enable()
    uvloop.run(many(application, count))
    profile.disable()
    stats = pstats.Stats(profile).stats
    handler = "LeanASGIHandler" if "lean" in mode() else "ASGIHandler"

    def cum(name):
        if name == "HANDLER":
            return sum(
                ct
                for (file, _, function), (_, _, _, ct, _) in stats.items()
                if function == "__call__"
                and file.endswith(
                    "leanasgi/handler.py"
                    if handler == "LeanASGIHandler"
                    else "core/handlers/asgi.py"
                )
            )
        if name == "CLOSE_HOP":
            # The sync_to_async calls that handle() makes itself: closing the
            # response (the signal's and the middleware's are counted there).
            return sum(
                by_caller[3]
                for (file, _, function), (*_, callers) in stats.items()
                if function == "__call__" and file.endswith("asgiref/sync.py")
                for caller, by_caller in callers.items()
                if caller[0].endswith("core/handlers/asgi.py") and caller[2] == "handle"
            )
        suffix, function = name.split(":")
        return sum(
            ct
            for (file, _, func), (_, _, _, ct, _) in stats.items()
            if func == function and file.endswith(suffix)
        )

    total = cum("leanasgi/application.py:__call__")
    layers = [(label, compute(cum) / total * wall * 1e6) for label, compute in LAYERS]
    from django.conf import settings

    return {"wall_us": wall * 1e6, "layers": layers, "middleware": settings.MIDDLEWARE}


def mode():
    return "stock" if os.environ.get("DJANGO_STOCK") == "1" else "lean"


def through_uvicorn(env, seconds=3):
    """Microseconds per request, one at a time, through a real uvicorn."""
    from harness.servers import serve

    from . import load

    with serve("uvicorn", env=env) as url:
        target = f"{url}{PATH}?{QUERY.decode()}"
        load.run(target, concurrency=1, requests=50)
        outcome = load.run(target, concurrency=1, duration=seconds)
    return outcome.elapsed / len(outcome.latencies) * 1e6


def run_both(count):
    from harness.servers import BASE_DIR, PRODUCTION_ENV

    results = {}
    for name, stock in (("lean", "0"), ("stock", "1")):
        env = {**os.environ, **PRODUCTION_ENV, "DJANGO_STOCK": stock}
        env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
        child = subprocess.run(
            [sys.executable, "-m", "bench.anatomy", "--one", str(count)],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(child.stdout.splitlines()[-1])
        results[name]["uvicorn_us"] = through_uvicorn({"DJANGO_STOCK": stock})
    return results


def table(results):
    lean, stock = results["lean"], results["stock"]
    rows = [("layer", "lean µs", "DJANGO_STOCK=1 µs")]
    for (label, ours), (_, theirs) in zip(lean["layers"], stock["layers"], strict=True):
        rows.append((label, f"{ours:.0f}", f"{theirs:.0f}"))
    rows.append(
        (
            "Django, in process, per request",
            f"{lean['wall_us']:.0f}",
            f"{stock['wall_us']:.0f}",
        )
    )
    rows.append(
        (
            "uvicorn, socket and client (the rest)",
            f"{lean['uvicorn_us'] - lean['wall_us']:.0f}",
            f"{stock['uvicorn_us'] - stock['wall_us']:.0f}",
        )
    )
    rows.append(
        (
            "through uvicorn, one at a time",
            f"{lean['uvicorn_us']:.0f}",
            f"{stock['uvicorn_us']:.0f}",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.anatomy", description=__doc__
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help="default: docs/figures/anatomy.txt")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_in_process(args.one)))
        return 0
    import datetime
    import platform
    from importlib.metadata import version

    from harness.servers import BASE_DIR

    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"# {now}, Python {platform.python_version()}, Django {version('django')},"
        f" uvicorn {version('uvicorn')}, {os.cpu_count()} CPUs; written by"
        " `make bench ARGS=--anatomy`",
        f"GET {PATH}?{QUERY.decode()}, {args.requests} requests in process, uvloop",
    ]
    results = run_both(args.requests)
    for name, result in results.items():
        classes = ", ".join(path.rsplit(".", 1)[1] for path in result["middleware"])
        lines.append(
            f"{name} middleware, {len(result['middleware'])} classes: {classes}"
        )
    lines.append(table(results))
    print("\n".join(lines))
    out = args.out or BASE_DIR / "docs" / "figures" / "anatomy.txt"
    Path(out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
