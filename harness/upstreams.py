"""Upstream services for the fan-out tests, each a real listener on loopback.

`FakeUpstream` answers by path: /json (a JSON echo after `delay` seconds,
counting them: `calls`, `in_flight` and `most_in_flight`), /stagger (the
same, after task_id x 0.3 s), /fail (HTTP 500), /flaky (500 for odd task
ids), /first-fails (500 for task 0; the others hang), /text (200, not JSON),
/trickle (a JSON answer sent one byte every 0.1 s) and /hang (accepts, never
answers, and records when the caller hangs up).
"""

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Server(ThreadingHTTPServer):
    # The default listen backlog of 5 would make a burst of callers wait for
    # the kernel to retry their connections, a second or more each.
    request_queue_size = 1024


class FakeUpstream:
    def __init__(self):
        self.hanging = 0  # requests to /hang still open
        self.hung_up = 0  # requests to /hang the caller closed
        self.in_flight = 0  # calls being answered now
        self.most_in_flight = 0  # the most at once, ever
        self.calls = 0  # calls to /json begun, ever
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = Server(("127.0.0.1", 0), self.handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return False

    def handler_class(self):
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                task_id = int(query.get("task_id", 0))
                if url.path == "/hang" or (url.path == "/first-fails" and task_id):
                    return self.hang()
                failing = url.path == "/fail" or url.path == "/first-fails"
                if failing or (url.path == "/flaky" and task_id % 2):
                    return self.answer(500, b"boom", "text/plain")
                if url.path == "/text":
                    return self.answer(200, b"hello", "text/plain")
                if url.path == "/trickle":
                    return self.trickle(task_id)
                delay = float(query.get("delay", 0))
                if url.path == "/stagger":
                    delay = task_id * 0.3
                with upstream.lock:
                    upstream.calls += 1
                    upstream.in_flight += 1
                    upstream.most_in_flight = max(
                        upstream.most_in_flight, upstream.in_flight
                    )
                try:
                    time.sleep(delay)
                finally:
                    with upstream.lock:
                        upstream.in_flight -= 1
                body = json.dumps({"task_id": task_id, "delay": delay}).encode()
                self.answer(200, body, "application/json")

            def answer(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def trickle(self, task_id):
                """Headers at once, then the JSON body one byte every 0.1 s:
                never a read timeout, yet 40 bytes take 4 s."""
                body = json.dumps({"task_id": task_id, "pad": "x" * 20}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.flush()
                for byte in body:
                    if upstream.stopping.is_set():
                        return
                    time.sleep(0.1)
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return  # the caller hung up

            def hang(self):
                with upstream.lock:
                    upstream.hanging += 1
                try:
                    while not upstream.stopping.is_set():
                        readable, _, _ = select.select([self.connection], [], [], 0.05)
                        if readable and not self.connection.recv(1, socket.MSG_PEEK):
                            with upstream.lock:
                                upstream.hung_up += 1
                            return
                finally:
                    with upstream.lock:
                        upstream.hanging -= 1
                    self.close_connection = True

        return Handler


def closed_port_url():
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/closed"
