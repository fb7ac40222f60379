"""`python -m bench` (`make bench`): every server under every workload, on this machine.

Starts each server configuration as a real process on a free loopback port,
DEBUG off, runs every workload against it, stops it, and writes the table as
text, markdown and CSV plus a PNG chart into a results folder.
"""

import argparse
import asyncio
import datetime
import platform
import resource
import sys
import threading
from importlib.metadata import version
from pathlib import Path

from harness.sampler import PeakSampler, group_usage
from harness.servers import BASE_DIR, command_for, free_port, serve, started

from . import anatomy, load, report, storm
from .plan import CONFIGS, CPUS, NAMES, workloads

# The load generator is trusted only while the bare ASGI app, at the largest
# flood, answers within this share of the delay.
GENERATOR_BAR = 0.05
# The abandoned fan-outs: the clients hang up after this long, then this
# request must be answered again.
ABANDON_AFTER = 0.5
PROBE = "/api/say-after?delay=0&word=hello"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small floods, short delays: a smoke run"
    )
    parser.add_argument(
        "--only",
        metavar="NAME,...",
        help=f"configurations to run, of: {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="rounds of the whole plan, interleaved: each cell is the median"
        " of N runs, with the spread beside it (default 3, 1 with --quick)",
    )
    parser.add_argument("--out", type=Path, help="results folder (default: a new one)")
    parser.add_argument(
        "--anatomy",
        action="store_true",
        help="instead: where one trivial request's time goes, layer by layer",
    )
    args = parser.parse_args(argv)
    if args.only:
        chosen = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in NAMES]
        if unknown:
            parser.error(
                f"unknown configuration {', '.join(unknown)}; "
                f"choose from: {', '.join(NAMES)}"
            )
        args.configs = [config for config in CONFIGS if config.name in chosen]
    else:
        args.configs = CONFIGS
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if not 1 <= args.repeat <= 9:
        parser.error("--repeat takes 1 to 9 rounds")
    return args


SOFTWARE = ["django", "django-ninja", "uvicorn", "daphne", "gunicorn", "granian",
            "hypercorn", "django-bolt", "httpx2"]  # fmt: skip


def software():
    versions = ", ".join(f"{name} {version(name)}" for name in SOFTWARE)
    return f"Python {platform.python_version()}, {versions}"


def rerun_command(argv):
    """The command that reproduces this run, as the README writes it: where
    the results go (--out) is left out, as it changes nothing measured."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--out" in argv:
        at = argv.index("--out")
        del argv[at : at + 2]
    return "make bench" + (f' ARGS="{" ".join(argv)}"' if argv else "")


def machine():
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024**2:.0f} GiB"
    return f"{platform.system()} {platform.machine()}, {CPUS} CPUs ({model}){memory}"


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total):
        self.total, self.done = total, 0

    def step(self, label):
        self.done += 1
        filled = round(30 * self.done / self.total)
        bar = "#" * filled + "." * (30 - filled)
        line = f"[{bar}] {self.done}/{self.total} {label}"
        sys.stderr.write(f"\r\033[K{line}" if sys.stderr.isatty() else f"{line}\n")
        sys.stderr.flush()


def abandoned(url, workload, patience):
    """The storm, then the seconds until a trivial request is answered again."""
    finished, seconds = asyncio.run(
        storm.storm(
            url + workload.path,
            url + PROBE,
            clients=workload.concurrency,
            after=ABANDON_AFTER,
            patience=patience,
        )
    )
    row = {"recovery": seconds}
    if seconds is None:
        row["note"] = f"no answer within {patience} s"
    if finished:
        row["note"] = f"{finished} finished before the hang-up"
    return row


def main(argv=None):
    args = parse_args(argv)
    if args.anatomy:
        return anatomy.main([])
    quick = args.quick
    plan = workloads(quick)
    most_queueing = 3 if quick else 60  # seconds a capacity-bound server may queue
    patience = 10 if quick else 60  # seconds before a request counts as failed
    started_at = datetime.datetime.now().astimezone()
    out = args.out or BASE_DIR / "bench-results" / started_at.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    # A thousand connections at once need a thousand file descriptors, here and
    # in the servers, which inherit the limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    steps = [
        (config, workload)
        for config in args.configs
        for workload in plan
        if config.django or workload.raw
    ]
    progress = Progress(len(steps) * args.repeat)
    rows, warnings = [], []
    # The fan-outs call a bare ASGI upstream, so they measure the view, not a
    # second Django; the deadline is raised so that the sync loop can finish.
    with serve("raw-asgi") as upstream:
        env = {"AGGREGATOR_UPSTREAM_URL": upstream + "/", "AGGREGATOR_DEADLINE": "60"}
        # Round after round of every configuration, not one configuration N
        # times: a machine that slows for a minute spoils one run of each,
        # which the median drops, not every run of one.
        rounds = [(n, config) for n in range(args.repeat) for config in args.configs]
        for round_number, config in rounds:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            command = command_for(config.server, port, *config.extra_args)
            server_env = {**env, **dict(config.env)}
            with started(command, url, env=server_env, timeout=60) as process:
                for workload in plan:
                    if not (config.django or workload.raw):
                        continue
                    progress.step(f"{config.name}: {workload.name}")
                    row = {"config": config.name, "workload": workload.name}
                    row["round"] = round_number
                    row.update(floor=workload.floor, note="")
                    queue = workload.queue_seconds(config.capacity, workload.floor)
                    if queue > most_queueing:
                        row["note"] = (
                            f"skipped: {config.capacity} at a time would take "
                            f"{queue:.0f} s"
                        )
                        rows.append(row)
                        continue
                    load.run(url + workload.warmup_path, concurrency=1, requests=1)
                    if workload.kind == "abandon":
                        row.update(abandoned(url, workload, min(patience, 30)))
                        rows.append(row)
                        continue
                    # Threads in the middle of the wait, when every request
                    # of a flood is waiting at once.
                    waiting = []
                    timer = threading.Timer(
                        workload.floor / 2,
                        lambda pid=process.pid, into=waiting: into.append(
                            group_usage(pid)[1]
                        ),
                    )
                    if workload.floor >= 1:
                        timer.start()
                    with PeakSampler(process.pid) as peak:
                        outcome = load.run(
                            url + workload.path,
                            concurrency=workload.concurrency,
                            requests=workload.requests,
                            duration=workload.duration,
                            patience=patience,
                        )
                    row.update(report.summarize(outcome), rss=peak.rss_mib)
                    row["threads"] = peak.threads
                    timer.cancel()
                    if waiting:
                        row["waiting"] = waiting[0]
                    if outcome.failures:
                        row["note"] = ", ".join(
                            f"{count} {reason}"
                            for reason, count in outcome.failures.items()
                        )
                    rows.append(row)
    sys.stderr.write("\n")
    rows = report.medians(rows)

    largest = max((w for w in plan if w.raw and w.floor), key=lambda w: w.concurrency)
    for row in rows:
        over = row.get("max", 0) > largest.floor * 1000 * (1 + GENERATOR_BAR)
        if row["config"] == "raw-asgi" and row["workload"] == largest.name and over:
            warnings.append(
                f"the bare ASGI app took {row['max']:.0f} ms at "
                f"{largest.concurrency} concurrent requests, more than "
                f"{GENERATOR_BAR:.0%} over the delay: the load generator or "
                "the machine may be the bottleneck, not the servers"
            )

    meta = {
        "date": started_at.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "software": software(),
        "mode": "quick" if quick else "full",
        "runs": f"{args.repeat} per cell, interleaved; each cell is their median,"
        " and `spread` the lowest and highest of the workload's headline figure",
        "command": rerun_command(argv),
    }
    print(f"Benchmark, {meta['date']}, {meta['machine']}")
    print(report.text_table(rows))
    for warning in warnings:
        print(f"\nWARNING: {warning}")
    (out / "results.md").write_text(report.markdown(rows, meta, warnings))
    report.write_csv(rows, out / "results.csv")
    report.write_chart(rows, out / "latency.png", f"{meta['date']}, {meta['machine']}")
    print(f"\nResults written to {out}/ (results.md, results.csv, latency.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
