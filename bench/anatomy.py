"""The anatomy of one trivial async request: microseconds per layer.

`make bench ARGS=--anatomy` (or `python -m bench.anatomy`) drives
`GET /api/say-after?delay=0&word=hello` through `mysite.asgi.application` in
process, on uvloop, thousands of times: once timed without a profiler, once
under cProfile. Each layer's share of the profiled time, from cProfile's
cumulative times of the functions that bound it, is applied to the unprofiled
time per request, so the figures add up to what a request really costs. The
same request through a real uvicorn process, one at a time, gives what the
server, the socket and the client add. It runs in fresh processes: the lean
handler and Django as shipped (DJANGO_STOCK=1), and with --before REV that
commit's lean handler too (its site and leanasgi, this measurement), in
--rounds interleaved rounds; each figure is the median of the rounds.
"""

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATH = "/api/say-after"
QUERY = b"delay=0&word=hello"

# (label, how to compute it from the cumulative seconds of named functions).
# Each name is "file suffix:function"; cum() sums the matches.
LAYERS = [
    ("ServeStatic", lambda c: c("servestatic/asgi.py:__call__") - c("HANDLER")),
    (
        "handler: thread context, disconnect listener",
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
    ("close the response (stock: a thread hop)", lambda c: c("CLOSE_HOP")),
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
            # Closing the response: the lean handler's close_response(), or
            # the sync_to_async calls that Django's handle() makes itself
            # (the signal's and the middleware's are counted there).
            return cum("leanasgi/handler.py:close_response") + sum(
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


@contextlib.contextmanager
def tree_of(revision):
    """A worktree of `revision`, with this commit's bench/ in it, so that the
    same code measures both."""
    from harness.servers import BASE_DIR

    git = ["git", "-C", str(BASE_DIR)]
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        subprocess.run(
            [*git, "worktree", "add", "-q", "--detach", tree, revision], check=True
        )
        try:
            subprocess.run(["cp", "-r", BASE_DIR / "bench", tree], check=True)
            yield tree
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", tree], check=False)


def in_process(tree, stock, count):
    from harness.servers import PRODUCTION_ENV

    env = {**os.environ, **PRODUCTION_ENV, "DJANGO_STOCK": stock}
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    env["PYTHONPATH"] = f"{tree / 'leanasgi' / 'src'}:{tree}"
    child = subprocess.run(
        [sys.executable, "-m", "bench.anatomy", "--one", str(count)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(child.stdout.splitlines()[-1])


def median_of(runs):
    """One result from several: each figure the median of the runs, and the
    runs' per-request times kept for their range."""
    walls = [run["wall_us"] for run in runs]
    layers = [
        (label, statistics.median(run["layers"][i][1] for run in runs))
        for i, (label, _) in enumerate(runs[0]["layers"])
    ]
    return {
        **runs[0],
        "wall_us": statistics.median(walls),
        "walls": walls,
        "layers": layers,
    }


def run_all(count, rounds=3, before=None):
    from harness.servers import BASE_DIR

    configs = [("lean", BASE_DIR, "0"), ("stock", BASE_DIR, "1")]
    with contextlib.ExitStack() as stack:
        if before:
            configs.insert(0, ("before", stack.enter_context(tree_of(before)), "0"))
        runs = {name: [] for name, *_ in configs}
        for _ in range(rounds):
            for name, tree, stock in configs:
                runs[name].append(in_process(tree, stock, count))
    results = {name: median_of(each) for name, each in runs.items()}
    for name, stock in (("lean", "0"), ("stock", "1")):
        results[name]["uvicorn_us"] = through_uvicorn({"DJANGO_STOCK": stock})
    return results


def table(results, before=None):
    names = [name for name in ("before", "lean", "stock") if name in results]
    heads = {
        "before": f"lean at {before} µs",
        "lean": "lean µs",
        "stock": "DJANGO_STOCK=1 µs",
    }
    rows = [("layer", *(heads[name] for name in names))]
    for i, (label, _) in enumerate(results["lean"]["layers"]):
        rows.append((label, *(f"{results[n]['layers'][i][1]:.0f}" for n in names)))
    rows.append(
        (
            "Django, in process, per request",
            *(f"{results[n]['wall_us']:.0f}" for n in names),
        )
    )
    rows.append(
        (
            "  its range over the rounds",
            *(
                f"{min(results[n]['walls']):.0f}-{max(results[n]['walls']):.0f}"
                for n in names
            ),
        )
    )
    through = [n for n in names if "uvicorn_us" in results[n]]
    rows.append(
        (
            "uvicorn, socket and client (the rest)",
            *(
                f"{results[n]['uvicorn_us'] - results[n]['wall_us']:.0f}"
                if n in through
                else "-"
                for n in names
            ),
        )
    )
    rows.append(
        (
            "through uvicorn, one at a time",
            *(
                f"{results[n]['uvicorn_us']:.0f}" if n in through else "-"
                for n in names
            ),
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(names) + 1)]
    lines = []
    for row in rows:
        cells = [f"{row[0]:<{widths[0]}}"]
        cells += [f"{cell:>{widths[i + 1]}}" for i, cell in enumerate(row[1:])]
        lines.append("  ".join(cells))
    if before:
        ratio = results["lean"]["wall_us"] / results["before"]["wall_us"]
        lines.append(f"lean now / lean at {before}, in process: {ratio:.2f}")
    return "\n".join(lines)


def command(args):
    if args.before:
        return f"python -m bench.anatomy --before {args.before}"
    return "make bench ARGS=--anatomy"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.anatomy", description=__doc__
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", metavar="REV", help="also measure that commit's")
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
        f" `{command(args)}`",
        f"GET {PATH}?{QUERY.decode()}, {args.requests} requests in process, uvloop;"
        f" median of {args.rounds} interleaved rounds",
    ]
    results = run_all(args.requests, args.rounds, args.before)
    for name, result in results.items():
        classes = ", ".join(path.rsplit(".", 1)[1] for path in result["middleware"])
        lines.append(
            f"{name} middleware, {len(result['middleware'])} classes: {classes}"
        )
    lines.append(table(results, args.before))
    print("\n".join(lines))
    out = args.out or BASE_DIR / "docs" / "figures" / "anatomy.txt"
    Path(out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
