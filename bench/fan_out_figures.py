"""`make figures`' fan-out sections: the ways of fanning out, the two-service
quote, and the async fan-out under WSGI (docs/fan-out.md)."""

import json
import statistics
import time

import httpx2

from harness.servers import serve


def aggregator():
    """Each fan-out way, n=10 calls of 1 s, one at a time, on one uvicorn
    worker; for the stream, when its first line arrived too."""
    lines = []
    with serve("uvicorn") as url:
        httpx2.get(f"{url}/aggregator/bounded/?n=1&delay=0", timeout=30)
        for way in ("bounded", "threads", "sync-loop", "requests-loop"):
            body = httpx2.get(f"{url}/aggregator/{way}/?n=10&delay=1", timeout=30)
            answer = body.json()
            lines.append(
                f"{way}: HTTP {body.status_code}, elapsed {answer['elapsed']:.2f} s,"
                f" {answer['errors']} errors"
            )
        started_at = time.monotonic()
        arrivals = []
        with httpx2.stream(
            "GET", f"{url}/aggregator/stream/?n=10&delay=1", timeout=30
        ) as stream:
            for line in stream.iter_lines():
                arrivals.append((time.monotonic() - started_at, json.loads(line)))
        summary = arrivals[-1][1]["summary"]
        lines.append(
            f"stream: first line after {arrivals[0][0]:.2f} s, elapsed "
            f"{summary['elapsed']:.2f} s, {summary['errors']} errors"
        )
    return lines


def quote():
    """The two-service quote, async and sync, on one uvicorn worker: the price
    service answers in 0.3 s, the stock in 0.6 s; each item asked 5 times,
    one at a time, the median elapsed."""
    lines = []
    with serve("uvicorn") as url:
        httpx2.get(f"{url}/aggregator/quote/async/?item=tea", timeout=30)
        for kind in ("async", "sync"):
            for item in ("tea", "cocoa"):
                answers = [
                    httpx2.get(
                        f"{url}/aggregator/quote/{kind}/?item={item}", timeout=30
                    )
                    for _ in range(5)
                ]
                body = answers[-1].json()
                elapsed = statistics.median(a.json()["elapsed"] for a in answers)
                lines.append(
                    f"quote/{kind}/?item={item}: HTTP {answers[-1].status_code},"
                    f" median elapsed {elapsed:.2f} s; price {json.dumps(body['price'])};"
                    f" stock {json.dumps(body['stock'])}"
                )
    return lines


def wsgi_fan_out():
    """The async fan-out to this same server under WSGI gunicorn as configured
    (one worker, four threads): its own request holds one of the threads."""
    with serve("gunicorn") as url:
        answer = httpx2.get(f"{url}/aggregator/bounded/?n=10&delay=1", timeout=30)
        body = answer.json()
    return [
        f"async, n=10 delay=1: HTTP {answer.status_code}, "
        f"elapsed {body['elapsed']:.2f} s, {body['errors']} errors"
    ]
