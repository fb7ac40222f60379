"""The issue's targets, side by side with the bare ASGI app, in one run.

`python -m bench.compare --before REV` serves this commit, that commit and
Django as shipped, on one uvicorn worker and one Granian worker, and counts
trivial requests a second (`GET /api/say-after?delay=0&word=hello`, 50
clients, 5 s); then sends 1000 requests that each wait 3 s to one worker per
core, and reports how long the slowest took, as a multiple of the 3 s. Each
configuration runs once per round, the rounds interleaved; each figure is
the median of the rounds, with its range, and each ratio is taken within a
round. Last, what 1000 waiting requests cost in memory, one process each:
gunicorn with a thread for each (the sync view), Django's stock ASGI handler
and the lean path (the async view); its peak RSS over its idle RSS. Saved in
docs/figures/targets.txt.
"""

import argparse
import contextlib
import datetime
import platform
import resource
import statistics
import sys
from importlib.metadata import version

from harness.sampler import PeakSampler, group_usage
from harness.servers import BASE_DIR, serve, serve_process

from . import load
from .anatomy import tree_of
from .plan import CPUS

TRIVIAL = "/api/say-after?delay=0&word=hello"
WAIT = "/api/say-after?delay=3&word=hello"
PER_CORE = ("--workers", str(CPUS))


def configs(before):
    """(label, server, extra arguments, environment, tree: None is this one)."""
    lean, stock = {"DJANGO_STOCK": "0"}, {"DJANGO_STOCK": "1"}
    throughput = [
        ("bare ASGI app, uvicorn", "raw-asgi", (), {}, None),
        ("lean, uvicorn", "uvicorn", (), lean, None),
        ("Django as shipped, uvicorn", "uvicorn", (), stock, None),
        ("lean, Granian", "granian", (), lean, None),
    ]
    if before:
        throughput.insert(
            2, (f"lean at {before}, uvicorn", "uvicorn", (), lean, "before")
        )
        throughput.append((f"lean at {before}, Granian", "granian", (), lean, "before"))
    waiting = [
        (f"bare ASGI app, uvicorn x{CPUS}", "raw-asgi", PER_CORE, {}, None),
        (f"lean, uvicorn x{CPUS}", "uvicorn", PER_CORE, lean, None),
        (f"lean, gunicorn + UvicornWorker x{CPUS}", "gunicorn-uvicorn", PER_CORE, lean, None),
        (f"lean, Granian x{CPUS}", "granian", PER_CORE, lean, None),
    ]  # fmt: skip
    return throughput, waiting


@contextlib.contextmanager
def served(config, trees):
    _, server, extra, env, tree = config
    cwd = trees.get(tree)
    if cwd is not None:
        env = {**env, "PYTHONPATH": f"{cwd / 'leanasgi' / 'src'}:{cwd}"}
    with serve(server, *extra, env=env, cwd=cwd) as url:
        yield url


def per_second(config, trees, seconds):
    with served(config, trees) as url:
        load.run(f"{url}{TRIVIAL}", concurrency=50, requests=500)  # warm up
        outcome = load.run(f"{url}{TRIVIAL}", concurrency=50, duration=seconds)
    assert not outcome.failures, (config[0], outcome.failures)
    return len(outcome.latencies) / outcome.elapsed


def slowest_of_1000(config, trees):
    with served(config, trees) as url:
        load.run(f"{url}{TRIVIAL}", concurrency=50, requests=500)
        outcome = load.run(f"{url}{WAIT}", concurrency=1000, requests=1000)
    assert not outcome.failures, (config[0], outcome.failures)
    return max(outcome.latencies) / 3


MEMORY = [
    ("gunicorn, 1 worker x 1000 threads, sync view", "gunicorn",
     ("--workers", "1", "--threads", "1000"), {}, "/api/say-sync?delay=3&word=hello"),
    ("Django as shipped, uvicorn, async view", "uvicorn", (), {"DJANGO_STOCK": "1"}, WAIT),
    ("lean, uvicorn, async view", "uvicorn", (), {"DJANGO_STOCK": "0"}, WAIT),
]  # fmt: skip


def memory_of_1000(config):
    """(MiB the 1000 waiting requests added, peak threads)."""
    _, server, extra, env, path = config
    with serve_process(server, *extra, env=env) as (url, process):
        load.run(
            f"{url}{path.replace('delay=3', 'delay=0')}", concurrency=50, requests=500
        )
        idle, _ = group_usage(process.pid)
        with PeakSampler(process.pid) as peak:
            outcome = load.run(f"{url}{path}", concurrency=1000, requests=1000)
    assert not outcome.failures, (config[0], outcome.failures)
    return peak.rss_mib - idle, peak.threads


def spread(values, digits=0):
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__
    )
    parser.add_argument("--before", metavar="REV", help="also serve that commit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    throughput, waiting = configs(args.before)
    rates = {config[0]: [] for config in throughput}
    slowest = {config[0]: [] for config in waiting}
    memory = {config[0]: [] for config in MEMORY}
    with contextlib.ExitStack() as stack:
        trees = {None: None}
        if args.before:
            trees["before"] = stack.enter_context(tree_of(args.before))
        for _ in range(args.rounds):
            for config in throughput:
                rates[config[0]].append(per_second(config, trees, args.seconds))
            for config in waiting:
                slowest[config[0]].append(slowest_of_1000(config, trees))
            for config in MEMORY:
                memory[config[0]].append(memory_of_1000(config))
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    command = "python -m bench.compare" + (
        f" --before {args.before}" if args.before else ""
    )
    width = max(len(label) for label in [*rates, *slowest, *memory])
    lines = [
        f"# {now}, Python {platform.python_version()}, Django {version('django')},"
        f" uvicorn {version('uvicorn')}, granian {version('granian')},"
        f" gunicorn {version('gunicorn')}, {CPUS} CPUs; written by `{command}`",
        f"median (min-max) of {args.rounds} interleaved rounds",
        f"GET {TRIVIAL}, 50 clients, {args.seconds:g} s: requests per second",
        *(f"  {label:<{width}}  {spread(each)}" for label, each in rates.items()),
        f"1000 x GET {WAIT} at once: the slowest, as a multiple of 3 s",
        *(f"  {label:<{width}}  {spread(each, 3)}" for label, each in slowest.items()),
        "1000 waiting 3 s in one process: MiB they added to its RSS; its peak threads",
        *(
            f"  {label:<{width}}  {spread([m for m, _ in each], 1)} MiB;"
            f" {spread([t for _, t in each])} threads"
            for label, each in memory.items()
        ),
        "ratios, each taken within a round:",
    ]

    def ratio(top, bottom):
        return spread(
            [a / b for a, b in zip(rates[top], rates[bottom], strict=True)], 2
        )

    lines.append(
        f"  lean / Django as shipped, uvicorn: {ratio('lean, uvicorn', 'Django as shipped, uvicorn')}"
    )
    lines.append(
        f"  bare ASGI app / lean, uvicorn: {ratio('bare ASGI app, uvicorn', 'lean, uvicorn')}"
    )
    if args.before:
        for server in ("uvicorn", "Granian"):
            lines.append(
                f"  lean / lean at {args.before}, {server}:"
                f" {ratio(f'lean, {server}', f'lean at {args.before}, {server}')}"
            )
    text = "\n".join(lines) + "\n"
    (BASE_DIR / "docs" / "figures" / "targets.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
