"""The benchmark tool: its quick mode end to end, and its command line."""

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

from bench import anatomy
from bench.plan import CONFIGS, NAMES, workloads
from bench.servers import ASGI_SERVERS, BASE_DIR


def bench(*args):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )


class BenchCommandLineTests(SimpleTestCase):
    def test_unknown_configuration_lists_the_valid_ones(self):
        """--only with an unknown name fails at once, naming every valid choice."""
        result = bench("--only", "uvicorn,nginx")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown configuration nginx", result.stderr)
        for name in NAMES:
            self.assertIn(name, result.stderr)


class QuickBenchTests(SimpleTestCase):
    """One `--quick` run over every configuration, shared by the tests below."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.out = Path(cls.enterClassContext(tempfile.TemporaryDirectory()))
        cls.result = bench("--quick", "--out", str(cls.out))
        with open(cls.out / "results.csv") as handle:
            cls.rows = list(csv.DictReader(handle))

    def test_it_succeeds_and_says_where_the_results_are(self):
        """The run exits 0, prints the table, and names the results folder."""
        self.assertEqual(self.result.returncode, 0, self.result.stderr[-3000:])
        self.assertIn("peak RSS MiB", self.result.stdout)
        self.assertIn(f"Results written to {self.out}/", self.result.stdout)

    def test_every_configuration_and_workload_has_a_row(self):
        """The CSV has a row for each Django configuration and workload, and the
        anchors' (bare ASGI app, django-bolt) for the workloads they serve."""
        plan = workloads(quick=True)
        pairs = {(row["config"], row["workload"]) for row in self.rows}
        for config in CONFIGS:
            for workload in plan:
                if config.django or workload.raw:
                    self.assertIn((config.name, workload.name), pairs)

    def test_latencies_are_ordered_and_above_the_delay(self):
        """Every measured row has min <= median <= p95 <= p99 <= max, none below
        the delay, and a peak RSS and thread count of the server."""
        measured = [row for row in self.rows if row["max"]]
        self.assertGreater(len(measured), 30)
        for row in measured:
            with self.subTest(config=row["config"], workload=row["workload"]):
                figures = [
                    float(row[key]) for key in ("min", "median", "p95", "p99", "max")
                ]
                self.assertEqual(figures, sorted(figures))
                self.assertGreaterEqual(figures[0], float(row["floor"]) * 1000)
                self.assertGreater(float(row["rss"]), 10)
                self.assertGreater(int(row["threads"]), 0)

    def test_async_servers_fail_nothing(self):
        """The ASGI servers answer every request of every workload."""
        for row in self.rows:
            if row["recovery"]:
                continue  # the abandoned fan-outs are not meant to be answered
            asgi = ("uvicorn", "daphne", "gunicorn-uvicorn", "raw-asgi", "django-bolt")
            if row["config"] in asgi:
                with self.subTest(config=row["config"], workload=row["workload"]):
                    self.assertEqual(row["failed"], "0")

    def test_asgi_servers_answer_again_soon_after_abandoned_fan_outs(self):
        """After clients hang up on their fan-outs, every ASGI server answers a
        trivial request within 2 s; one WSGI thread, which cannot cancel the
        abandoned work, takes far longer."""
        abandoned = {
            row["config"]: float(row["recovery"])
            for row in self.rows
            if row["workload"].startswith("abandoned") and row["recovery"]
        }
        asgi = [c.name for c in CONFIGS if c.django and c.server in ASGI_SERVERS]
        self.assertGreaterEqual(len(asgi), 5)
        for name in asgi:
            with self.subTest(name):
                self.assertLess(abandoned[name], 2)
        self.assertGreater(abandoned["gunicorn-sync"], 5)

    def test_a_one_thread_server_skips_what_it_would_queue_for(self):
        """gunicorn 1x1 skips the floods, saying how long they would take."""
        row = next(
            r
            for r in self.rows
            if r["config"] == "gunicorn-sync" and r["workload"].startswith("say-after")
        )
        self.assertRegex(row["note"], r"^skipped: 1 at a time would take \d+ s$")

    def test_markdown_and_chart_are_written(self):
        """results.md has a section per workload; latency.png is a PNG."""
        text = (self.out / "results.md").read_text()
        for workload in workloads(quick=True):
            self.assertIn(f"## {workload.name}", text)
        self.assertTrue((self.out / "latency.png").read_bytes().startswith(b"\x89PNG"))


class AnatomyTests(SimpleTestCase):
    def test_anatomy_shows_where_the_stock_handler_spends_its_time(self):
        """The anatomy (`make bench ARGS=--anatomy`) prints every layer for both
        handlers: on the lean path
        request_started costs nothing and a request costs under half of
        Django as shipped, whose signal and middleware hops show."""
        result = subprocess.run(
            [sys.executable, "-m", "bench.anatomy", "--requests", "500"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        figures = {}
        for line in result.stdout.splitlines()[2:]:
            label, lean, stock = line.rsplit(None, 2)
            figures[label.strip()] = (float(lean), float(stock))
        self.assertEqual(len(figures), len(anatomy.LAYERS) + 3)
        lean_signal, stock_signal = figures["request_started signal"]
        self.assertLessEqual(lean_signal, 5)
        self.assertGreater(stock_signal, 50)
        lean_total, stock_total = figures["Django, in process, per request"]
        self.assertLess(lean_total, stock_total / 2)
        lean_mw, stock_mw = figures["middleware (all, with Server-Timing)"]
        self.assertLess(lean_mw, stock_mw / 3)


class FiguresTests(SimpleTestCase):
    def test_figures_measure_the_pitfalls(self):
        """`make figures`' pitfall section writes its raw output: five blocking
        sleeps take 5 s in all, their async twin and ten sync views about 1 s."""
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.figures",
                    "--only",
                    "pitfalls",
                    "--out",
                    out,
                ],
                cwd=BASE_DIR,
                capture_output=True,
                text=True,
                timeout=120,
            )
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            lines = (Path(out) / "pitfalls.txt").read_text().splitlines()
        totals = [float(line.rsplit("all ", 1)[1].split()[0]) for line in lines[2:5]]
        self.assertTrue(5 <= totals[0] < 5.8, totals)
        self.assertTrue(all(1 <= total < 1.6 for total in totals[1:]), totals)
        self.assertIn("self-call, n=10 delay=1: elapsed", lines[5])
