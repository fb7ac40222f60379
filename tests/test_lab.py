"""The live lab's runner and meter, against a real uvicorn (the page itself is
tested in Chromium, in test_lab_browser.py)."""

import json
import os
import signal
import time

import httpx2
import pytest
from django.test import SimpleTestCase
from django.urls import reverse

from harness.servers import output, serve, serve_process

LAB_ON = {"DJANGO_LAB": "1"}  # the servers run with DEBUG off, as in production


def sse_events(response):
    """(kind, data) for each server-sent event of a streamed response."""
    kind = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield kind, json.loads(line.removeprefix("data: "))


def run_events(url, query):
    with httpx2.stream("GET", f"{url}/lab/run/?{query}", timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        return list(sse_events(response))


def meter(url):
    return httpx2.get(f"{url}/lab/meter/", timeout=5).json()


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not (result := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


@pytest.fixture(scope="module")
def lab_url():
    with serve("uvicorn", env=LAB_ON) as url:
        yield url


@pytest.mark.slow
def test_a_run_streams_each_request_and_a_summary(lab_url):
    """say-after with n=3, delay=1: the run's lanes in order, a start and an end
    per request with its status and headers, meter samples, and a summary per
    lane whose slowest request took about one delay."""
    events = run_events(lab_url, "experiment=say-after&n=3&delay=1")
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "run" and kinds[-1] == "done"
    assert [data["lane"] for kind, data in events if kind == "lane"] == [
        "async",
        "sync",
    ]
    for lane, thread in [("async", "MainThread"), ("sync", "request-")]:
        starts = [d for k, d in events if k == "start" and d["lane"] == lane]
        ends = [d for k, d in events if k == "end" and d["lane"] == lane]
        assert sorted(d["index"] for d in starts) == [0, 1, 2]
        assert sorted(d["index"] for d in ends) == [0, 1, 2]
        assert {d["status"] for d in ends} == {"ok"}
        assert all(d["server_timing"].startswith("view;dur=") for d in ends)
        assert all(d["view_thread"].startswith(thread) for d in ends)
    samples = [data for kind, data in events if kind == "meter"]
    assert len(samples) >= 10  # one per 100 ms over two 1 s lanes
    assert all(sample["in_flight"] <= 3 for sample in samples)
    done = events[-1][1]
    assert set(done["lanes"]) == {"async", "sync"}
    for summary in done["lanes"].values():
        assert 1000 <= summary["slowest_ms"] < 1500
        assert summary["wall_ms"] < 1500
    assert done["slowest_ms"] == max(s["slowest_ms"] for s in done["lanes"].values())


@pytest.mark.slow
def test_the_blocking_lane_is_a_staircase_and_the_loop_lags(lab_url):
    """blocking-sleep with n=3, delay=1: the async lane ends together, the
    pitfall lane one second apart, and the meter sees the loop about 1 s late."""
    events = run_events(lab_url, "experiment=blocking-sleep&n=3&delay=1")
    ends = {
        lane: sorted(d["at_ms"] for k, d in events if k == "end" and d["lane"] == lane)
        for lane in ("async", "blocking")
    }
    assert ends["async"][-1] - ends["async"][0] < 200
    steps = [
        b - a for a, b in zip(ends["blocking"], ends["blocking"][1:], strict=False)
    ]
    assert all(800 < step < 1500 for step in steps), ends["blocking"]
    lags = [d["lag_ms"] for k, d in events if k == "meter" and d["lane"] == "blocking"]
    assert 800 < max(lags) < 3500


@pytest.mark.slow
def test_one_run_at_a_time(lab_url):
    """A second run while one streams gets 429 JSON with a Retry-After; once
    the first is done, a run is accepted again."""
    query = "experiment=say-after&n=2&delay=2"
    with httpx2.stream("GET", f"{lab_url}/lab/run/?{query}", timeout=30) as first:
        assert first.status_code == 200
        second = httpx2.get(f"{lab_url}/lab/run/?{query}", timeout=5)
        assert second.status_code == 429
        assert "one at a time" in second.json()["error"]
        assert 1 <= int(second.headers["retry-after"]) <= 62
        first.read()
    assert run_events(lab_url, "experiment=orm&n=1&delay=0")[-1][0] == "done"


@pytest.mark.slow
def test_closing_the_stream_cancels_every_request_of_the_run(lab_url):
    """A client that leaves mid-run (the page closed): the 100 five-second async
    requests it had sent are cancelled at once, none stays in flight, and the
    lab takes a new run."""
    query = "experiment=say-after&n=100&delay=5"
    with httpx2.stream("GET", f"{lab_url}/lab/run/?{query}", timeout=30) as response:
        for kind, data in sse_events(response):
            if kind == "meter" and data["in_flight"] == 100:
                break
    left = time.monotonic()
    assert wait_for(lambda: meter(lab_url)["in_flight"] == 0, timeout=3)
    assert time.monotonic() - left < 2  # not the 5 s the requests would take
    assert run_events(lab_url, "experiment=orm&n=1&delay=0")[-1][0] == "done"


@pytest.mark.slow
def test_a_fan_out_lane_runs_past_the_fan_outs_own_bound(lab_url):
    """fan-out with n=30: 150 upstream calls per lane, more than the shared
    client's 100 slots, with the runner's own 30 requests on a client of their
    own. Every lane ends ok (no deadlock on the slots)."""
    events = run_events(lab_url, "experiment=fan-out&n=30&delay=0")
    statuses = {d["status"] for k, d in events if k == "end"}
    assert statuses == {"ok"}
    assert events[-1][1]["slowest_ms"] < 5000


@pytest.mark.slow
def test_sigterm_ends_a_run_with_restart_and_the_server_within_5_s():
    """SIGTERM mid-run (two lanes of 100 five-second say-afters, 10 s to go):
    the stream ends at once with a `restart` event, which the page answers by
    sending the run again, and the server exits within 5 s, not after the run."""
    query = "experiment=say-after&n=100&delay=5"
    with serve_process("uvicorn", env=LAB_ON) as (url, process):
        with httpx2.stream("GET", f"{url}/lab/run/?{query}", timeout=30) as response:
            events = sse_events(response)
            for kind, data in events:
                if kind == "meter" and data["in_flight"] == 100:
                    break
            os.kill(process.pid, signal.SIGTERM)
            stopping = time.monotonic()
            rest = list(events)
        ended = time.monotonic() - stopping
        status = process.wait(timeout=max(0.1, stopping + 5 - time.monotonic()))
        exited = time.monotonic() - stopping
        log = output(process)
    assert rest[-1] == (
        "restart",
        {"reason": "the server is stopping", "retry_ms": 1000},
    )
    assert "done" not in [kind for kind, _ in rest]
    assert ended < 2
    assert exited < 5
    assert status == -signal.SIGTERM, log[-2000:]  # uvicorn re-raises SIGTERM


@pytest.mark.slow
def test_a_run_ends_at_its_deadline():
    """With LAB_DEADLINE=2, five 5 s say-afters end as timeouts after about 2 s,
    the second lane's without waiting, and the run still sends its summary."""
    with serve("uvicorn", env={**LAB_ON, "LAB_DEADLINE": "2"}) as url:
        started = time.monotonic()
        events = run_events(url, "experiment=say-after&n=5&delay=5")
        took = time.monotonic() - started
    ends = [data for kind, data in events if kind == "end"]
    assert len(ends) == 10
    assert {end["status"] for end in ends} == {"timeout"}
    assert {end["error"] for end in ends} == {"run deadline"}
    assert events[-1][0] == "done"
    assert 1.8 < took < 4


@pytest.mark.slow
def test_lab_is_off_with_debug_off_unless_asked():
    """With DEBUG off the lab answers 404 unless DJANGO_LAB=1; the index page
    links it only when it is on."""
    with serve("uvicorn") as url:
        assert httpx2.get(f"{url}/lab/").status_code == 404
        assert (
            httpx2.get(f"{url}/lab/run/?experiment=orm&n=1&delay=0").status_code == 404
        )
        assert "/lab/" not in httpx2.get(f"{url}/").text


class RunnerQueryTests(SimpleTestCase):
    def test_bad_queries_get_400_naming_what_is_allowed(self):
        """Unknown experiment, n or delay out of range: 400 JSON that lists the
        experiments and the ranges."""
        response = self.client.get(
            reverse("lab:run"), {"experiment": "nope", "n": 0, "delay": 9}
        )
        self.assertEqual(response.status_code, 400)
        fields = response.json()["fields"]
        self.assertEqual(set(fields), {"experiment", "n", "delay"})
        self.assertEqual(
            fields["experiment"]["allowed"],
            "one of say-after, blocking-sleep, fan-out, orm",
        )
        self.assertEqual(fields["n"]["allowed"], "requests per lane, 1 to 200")
        self.assertEqual(fields["delay"]["allowed"], "whole seconds, 0 to 5")

    def test_the_blocking_pitfall_is_capped(self):
        """blocking-sleep may stop the server's loop for at most 20 s in all."""
        query = {"experiment": "blocking-sleep", "n": 5, "delay": 5}
        response = self.client.get(reverse("lab:run"), query)
        self.assertEqual(response.status_code, 400)
        self.assertIn("n * delay = 25 s", response.json()["fields"]["n"]["errors"][0])

    def test_wsgi_gets_a_clear_503(self):
        """Under WSGI (Django's test client here) the runner cannot stream, and says so."""
        query = {"experiment": "orm", "n": 1, "delay": 0}
        response = self.client.get(reverse("lab:run"), query)
        self.assertEqual(response.status_code, 503)
        self.assertIn("ASGI", response.json()["error"])

    def test_the_page_lists_every_experiment(self):
        """The page offers each experiment, with its name shown."""
        response = self.client.get(reverse("lab:lab"))
        for name in ["say-after", "blocking-sleep", "fan-out", "orm"]:
            self.assertContains(response, f'<option value="{name}">')
            self.assertContains(response, f'data-experiment="{name}"')

    def test_favicon(self):
        """/favicon.ico points at the static icon, which every page also names."""
        response = self.client.get("/favicon.ico")
        self.assertEqual(response.status_code, 301)
        self.assertEqual(response["Location"], "/static/favicon.ico")
        self.assertContains(
            self.client.get(reverse("index")), 'rel="icon" href="/static/favicon.ico"'
        )
