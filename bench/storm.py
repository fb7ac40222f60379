"""Clients that give up: open requests, hang up, then time how soon the server answers.

`abandon()` is the storm: `clients` connections each send one GET and close
after `after` seconds, without reading the answer, as a proxy timeout, a
flaky mobile network or an impatient user does. `recovery()` then measures
how long the server takes to answer a trivial request again. `make bench`
uses both; `python -m bench.storm` runs the storm against one uvicorn worker
for each way of fanning out and prints what it costs the server afterwards.
"""

import argparse
import asyncio
import datetime
import os
import platform
import signal
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness.sampler import group_usage
from harness.servers import BASE_DIR, serve_process

from .load import get_all, request_for


async def abandon(url, *, clients=100, after=0.5):
    """`clients` concurrent GETs of `url`, each closed unanswered after `after` s.

    Returns how many the server finished before the hang-up: those were not
    abandoned.
    """
    parts, request = request_for(url)

    async def one():
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(request)
            await writer.drain()
            try:
                async with asyncio.timeout(after):
                    await reader.read(-1)  # until the server closes: it finished
                return True
            except TimeoutError:
                return False
        finally:
            writer.close()

    answered = await asyncio.gather(*(one() for _ in range(clients)))
    return sum(answered)


async def recovery(url, *, patience=30.0, interval=0.05):
    """Seconds until `url` answers 200 on a fresh connection, or None past `patience`."""
    parts, request = request_for(url)
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < patience:
        try:
            async with asyncio.timeout(min(1.0, patience - elapsed)):
                reader, writer = await asyncio.open_connection(
                    parts.hostname, parts.port
                )
                try:
                    writer.write(request)
                    answer = await reader.read(-1)
                finally:
                    writer.close()
            if answer.startswith(b"HTTP/1.1 200"):
                return time.perf_counter() - started
        except (TimeoutError, OSError):
            pass
        await asyncio.sleep(interval)
    return None


async def storm(url, probe_url, *, clients=100, after=0.5, patience=30.0):
    """The storm then the probe: (answered before hang-up, seconds to recover)."""
    answered = await abandon(url, clients=clients, after=after)
    return answered, await recovery(probe_url, patience=patience)


# -- python -m bench.storm --------------------------------------------------------

PROBE = "/api/say-sync?delay=1&word=hi"


def cpu_seconds(pid):
    """User plus system CPU time process `pid` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def slowest_of(url, count, patience):
    """The slowest of `count` concurrent GETs of `url`, or None past `patience`."""
    try:
        async with asyncio.timeout(patience):
            answers = await get_all(url, count)
    except TimeoutError:
        return None
    if any(status != 200 for status, _, _ in answers):
        return None
    return max(seconds for _, seconds, _ in answers)


def measure(way, query, clients, patience):
    """One fresh uvicorn worker, one storm: the figures of one row."""
    with serve_process("uvicorn") as (url, process):
        pid = process.pid
        # Warm up: the shared client or pool exists before the storm.
        asyncio.run(get_all(f"{url}/aggregator/{way}/?n=1&delay=0", 1))
        before = group_usage(pid)[1]
        finished = asyncio.run(
            abandon(f"{url}/aggregator/{way}/?{query}", clients=clients)
        )
        hung_up, cpu = time.monotonic(), cpu_seconds(pid)
        at_peak = group_usage(pid)[1]
        slowest = asyncio.run(slowest_of(url + PROBE, 20, patience))
        time.sleep(max(5 - (time.monotonic() - hung_up), 0))
        row = {
            "way": way,
            "finished": finished,
            "slowest": slowest,
            "threads": (before, at_peak, group_usage(pid)[1]),
            "cpu": (cpu_seconds(pid) - cpu) / (time.monotonic() - hung_up),
        }
        stopping = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        try:
            process.wait(timeout=patience)
            row["stop"] = time.monotonic() - stopping
        except subprocess.TimeoutExpired:
            row["stop"] = None
    return row


def clients_installed():
    """The HTTP clients installed; the commit says which one the code imports."""
    found = []
    for name in ("httpx", "httpcore", "httpx2", "httpcore2"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found) or "no httpx"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.storm", description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--query", default="n=20&delay=3")
    parser.add_argument("--patience", type=float, default=15)
    parser.add_argument("--ways", default="bounded,stream,threads")
    args = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    ).stdout.strip()
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"Abandoned fan-outs, {now}, commit {commit or 'unknown'}")
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"one uvicorn worker, DEBUG off; installed: {clients_installed()}"
    )
    print(
        f"{args.clients} clients hang up after 0.5 s on "
        f"GET /aggregator/<way>/?{args.query}; then 20 concurrent {PROBE}"
    )
    print()
    header = (
        "way       slowest say-sync s   threads before/peak/after 5 s"
        "   CPU % next 5 s   SIGTERM to exit s"
    )
    print(header)
    for way in args.ways.split(","):
        row = measure(way, args.query, args.clients, args.patience)
        slowest = (
            f"{row['slowest']:.2f}"
            if row["slowest"] is not None
            else f"none in {args.patience:.0f}"
        )
        threads = "/".join(str(count) for count in row["threads"])
        stop = (
            f"{row['stop']:.2f}"
            if row["stop"] is not None
            else f"> {args.patience:.0f}"
        )
        print(
            f"{way:<9} {slowest:>18}   {threads:>29}   "
            f"{row['cpu'] * 100:>14.0f}   {stop:>17}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
