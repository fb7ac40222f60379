"""The benchmark tool: its quick mode end to end, and its command line."""

import csv
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.test import SimpleTestCase

from bench import anatomy, profile
from bench.plan import CONFIGS, NAMES, workloads
from harness.servers import ASGI_SERVERS, BASE_DIR


def run(module, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class BenchCommandLineTests(SimpleTestCase):
    def test_unknown_configuration_lists_the_valid_ones(self):
        """--only with an unknown name fails at once, naming every valid choice."""
        result = run("bench", "--only", "uvicorn,nginx")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown configuration nginx", result.stderr)
        for name in NAMES:
            self.assertIn(name, result.stderr)


@pytest.fixture(scope="module")
def quick():
    """One `--quick` run over every configuration: (the run, its folder, its rows)."""
    with tempfile.TemporaryDirectory() as out:
        result = run("bench", "--quick", "--out", out)
        with open(Path(out) / "results.csv") as handle:
            rows = list(csv.DictReader(handle))
        yield result, Path(out), rows


@pytest.mark.slow
def test_it_succeeds_and_says_where_the_results_are(quick):
    """The run exits 0, prints the table, and names the results folder."""
    result, out, _ = quick
    assert result.returncode == 0, result.stderr[-3000:]
    assert "peak RSS MiB" in result.stdout
    assert f"Results written to {out}/" in result.stdout


@pytest.mark.slow
def test_every_configuration_and_workload_has_a_row(quick):
    """The CSV has a row for each Django configuration and workload, and the
    anchors' (bare ASGI app, django-bolt) for the workloads they serve."""
    pairs = {(row["config"], row["workload"]) for row in quick[2]}
    for config in CONFIGS:
        for workload in workloads(quick=True):
            if config.django or workload.raw:
                assert (config.name, workload.name) in pairs


@pytest.mark.slow
def test_latencies_are_ordered_and_above_the_delay(quick):
    """Every measured row has min <= median <= p95 <= p99 <= max, none below
    the delay, and a peak RSS and thread count of the server."""
    measured = [row for row in quick[2] if row["max"]]
    assert len(measured) > 30
    for row in measured:
        figures = [float(row[key]) for key in ("min", "median", "p95", "p99", "max")]
        where = (row["config"], row["workload"])
        assert figures == sorted(figures), where
        assert figures[0] >= float(row["floor"]) * 1000, where
        assert float(row["rss"]) > 10, where
        assert int(row["threads"]) > 0, where


@pytest.mark.slow
def test_async_servers_fail_nothing(quick):
    """The ASGI servers answer every request of every workload."""
    asgi = ("uvicorn", "daphne", "gunicorn-uvicorn", "raw-asgi", "django-bolt")
    for row in quick[2]:
        # The abandoned fan-outs are not meant to be answered.
        if row["config"] in asgi and not row["recovery"]:
            assert row["failed"] == "0", (row["config"], row["workload"])


@pytest.mark.slow
def test_asgi_servers_answer_again_soon_after_abandoned_fan_outs(quick):
    """After clients hang up on their fan-outs, every ASGI server answers a
    trivial request within 2 s; one WSGI thread, which cannot cancel the
    abandoned work, takes far longer."""
    abandoned = {
        row["config"]: float(row["recovery"])
        for row in quick[2]
        if row["workload"].startswith("abandoned") and row["recovery"]
    }
    asgi = [c.name for c in CONFIGS if c.django and c.server in ASGI_SERVERS]
    assert len(asgi) >= 5
    for name in asgi:
        assert abandoned[name] < 2, name
    assert abandoned["gunicorn-sync"] > 5


@pytest.mark.slow
def test_a_one_thread_server_skips_what_it_would_queue_for(quick):
    """gunicorn 1x1 skips the floods, saying how long they would take."""
    row = next(
        r
        for r in quick[2]
        if r["config"] == "gunicorn-sync" and r["workload"].startswith("say-after")
    )
    assert re.fullmatch(r"skipped: 1 at a time would take \d+ s", row["note"])


@pytest.mark.slow
def test_markdown_and_chart_are_written(quick):
    """results.md has a section per workload; latency.png is a PNG."""
    out = quick[1]
    text = (out / "results.md").read_text()
    for workload in workloads(quick=True):
        assert f"## {workload.name}" in text
    assert (out / "latency.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_anatomy_shows_where_the_stock_handler_spends_its_time():
    """The anatomy (`make bench ARGS=--anatomy`) prints every layer for both
    handlers: on the lean path request_started costs nothing and a request
    costs under half of Django as shipped, whose signal and middleware hops
    show."""
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "anatomy.txt"
        result = run("bench.anatomy", "--requests", "500", "--out", str(saved))
        assert result.returncode == 0, result.stderr[-3000:]
        assert saved.read_text() == result.stdout
    lines = result.stdout.splitlines()
    assert "written by `make bench ARGS=--anatomy`" in lines[0]
    assert lines[2].startswith("lean middleware, 11 classes: ServerTimingMiddleware")
    assert lines[3].startswith("stock middleware, 7 classes: SecurityMiddleware")
    figures = {}
    for line in lines[5:]:
        label, lean, stock = line.rsplit(None, 2)
        if label.strip() == "its range over the rounds":
            ranges = [tuple(map(float, cell.split("-"))) for cell in (lean, stock)]
            continue
        figures[label.strip()] = (float(lean), float(stock))
    assert len(figures) == len(anatomy.LAYERS) + 3
    for (low, high), median in zip(
        ranges, figures["Django, in process, per request"], strict=True
    ):
        assert low <= median <= high, (low, median, high)
    lean_signal, stock_signal = figures["request_started signal"]
    assert lean_signal <= 5
    assert stock_signal > 50
    lean_total, stock_total = figures["Django, in process, per request"]
    assert lean_total < stock_total / 2
    lean_mw, stock_mw = figures["middleware (all, with Server-Timing)"]
    assert lean_mw < stock_mw / 3


@pytest.mark.slow
def test_anatomy_measures_another_commit_beside_this_one():
    """--before REV serves that commit's site from a worktree in the same
    rounds: against HEAD itself, the two columns agree within noise."""
    with tempfile.TemporaryDirectory() as folder:
        result = run(
            "bench.anatomy",
            *("--requests", "300", "--rounds", "1", "--before", "HEAD"),
            *("--out", str(Path(folder) / "anatomy.txt")),
        )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "`python -m bench.anatomy --before HEAD`" in lines[0]
    assert lines[2].startswith("before middleware, 11 classes:")
    ratio = float(lines[-1].rsplit(":", 1)[1])
    assert lines[-1].startswith("lean now / lean at HEAD, in process:")
    assert 0.6 < ratio < 1.6, lines[-1]


LOOP = (
    "thread (7): MainThread;<module> (uvicorn:8);main (uvicorn/main.py:448);"
    "Server.run (uvicorn/server.py:86);run (asyncio/runners.py:194);"
    "Runner.run (asyncio/runners.py:118)"
)
GRANIAN = (
    'process 1:"granian";process 2:"granian";thread (2): MainThread;'
    "cli (granian/cli.py:600);BaseProcess.run (multiprocessing/process.py:108);"
    "MPServer._spawn_asgi_lifespan_worker (granian/server/mp.py:249)"
)


class ProfileTests(SimpleTestCase):
    """bench/profile.py's split of py-spy's raw samples, on stacks of the
    shapes py-spy 0.4 writes with --threads (and --subprocesses)."""

    def test_the_loop_is_counted_apart_from_what_it_ran(self):
        """A sample that stops at the loop's run is the loop's own C code, not
        uvicorn's, though uvicorn's main is below it; what the loop ran goes
        to its innermost layer."""
        self.assertEqual(profile.classify(LOOP), ("loop", profile.LOOP_ITSELF))
        protocol = f"{LOOP};data_received (uvicorn/protocols/http/httptools_impl.py:1)"
        self.assertEqual(profile.classify(protocol)[1], profile.LAYERS[0][0])
        asyncio_only = f"{LOOP};__init__ (asyncio/locks.py:168)"
        self.assertEqual(
            profile.classify(asyncio_only), ("loop", "other Python (asyncio, stdlib)")
        )

    def test_uvicorns_proxy_headers_middleware_is_uvicorn(self):
        """The frame of uvicorn's ProxyHeadersMiddleware is uvicorn's, and the
        site's middleware under it is middleware."""
        proxy = f"{LOOP};__call__ (uvicorn/middleware/proxy_headers.py:63)"
        self.assertTrue(profile.classify(proxy)[1].startswith("uvicorn"))
        hook = f"{proxy};inner (django/core/handlers/exception.py:48)"
        self.assertTrue(profile.classify(hook)[1].startswith("middleware"))

    def test_a_task_resumed_from_c_is_what_the_loop_ran(self):
        """A coroutine's frames with no loop frame under them (a task resumed
        by uvloop) go to their innermost layer, not to the loop itself."""
        task = "thread (7): MainThread;_async_view (ninja/operation.py:699)"
        self.assertTrue(profile.classify(task)[1].startswith("ninja"))

    def test_other_threads_and_empty_stacks(self):
        """A pool thread is "other"; another thread with no Python stack is
        unreadable; the main thread with none is the loop in C."""
        worker = "thread (9): ThreadPoolExecutor-1_0;_worker (concurrent/futures/thread.py:89)"
        self.assertEqual(profile.classify(worker), ("other", None))
        self.assertEqual(profile.classify("thread (0)"), ("unreadable", None))
        self.assertEqual(
            profile.classify("thread (7): MainThread"), ("loop", profile.LOOP_ITSELF)
        )

    def test_granians_worker_is_found_under_its_supervisor(self):
        """Under Granian the worker's stacks start with two processes and the
        loop runs under the worker's start; the supervisor's own main thread,
        one process deep, is not the worker's loop."""
        self.assertEqual(profile.classify(GRANIAN, 2), ("loop", profile.LOOP_ITSELF))
        ran = f"{GRANIAN};future_watcher (granian/_futures.py:15)"
        self.assertTrue(profile.classify(ran, 2)[1].startswith("Granian"))
        ran += ";LeanASGIHandler.__call__ (leanasgi/handler.py:80)"
        self.assertTrue(profile.classify(ran, 2)[1].startswith("leanasgi"))
        supervisor = 'process 1:"granian";thread (1): MainThread;serve (granian/x.py:1)'
        self.assertEqual(profile.classify(supervisor, 2), ("other", None))
        rust = 'process 1:"granian";process 2:"granian";thread (3)'
        self.assertEqual(profile.classify(rust, 2), ("unreadable", None))


@pytest.mark.slow
def test_figures_measure_the_pitfalls():
    """`make figures`' pitfall section writes its raw output: five blocking
    sleeps take 5 s in all, their async twin and ten sync views about 1 s."""
    with tempfile.TemporaryDirectory() as out:
        result = run("bench.figures", "--only", "pitfalls", "--out", out, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        lines = (Path(out) / "pitfalls.txt").read_text().splitlines()
    totals = [float(line.rsplit("all ", 1)[1].split()[0]) for line in lines[2:5]]
    assert 5 <= totals[0] < 5.8, totals
    assert all(1 <= total < 1.6 for total in totals[1:]), totals
    assert "self-call, n=10 delay=1: elapsed" in lines[5]


class RepeatTests(SimpleTestCase):
    def test_each_cell_is_the_median_of_its_runs_with_the_spread(self):
        """Three runs of one cell become one row: each figure their median,
        failures the worst run's, and the headline's lowest and highest."""
        from bench.report import medians

        runs = [
            {"config": "uvicorn", "workload": "x100", "floor": 3, "note": "",
             "round": n, "max": high, "rps": 30.0, "failed": failed}
            for n, (high, failed) in enumerate([(3050, 0), (3300, 2), (3040, 0)])
        ]  # fmt: skip
        [row] = medians(runs)
        self.assertEqual((row["max"], row["failed"], row["rps"]), (3050, 2, 30.0))
        self.assertEqual(row["spread"], "3040-3300 max ms (3 runs)")
        self.assertNotIn("round", row)

    def test_the_saved_run_says_how_to_make_it_again(self):
        """docs/bench/results.md names the command, the runs per cell and every
        server's version, so a reader can repeat it and compare."""
        from bench.__main__ import SOFTWARE

        header = (BASE_DIR / "docs" / "bench" / "results.md").read_text()[:2000]
        self.assertIn("- command: make bench", header)
        self.assertIn("- runs: 3 per cell, interleaved", header)
        for name in SOFTWARE:
            self.assertRegex(header, rf"{name} \d")
