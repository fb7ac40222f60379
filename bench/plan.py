"""What the benchmark runs: the server configurations and the workloads."""

import math
import os
import re
from dataclasses import dataclass

CPUS = os.cpu_count() or 1


@dataclass(frozen=True)
class Config:
    name: str
    server: str  # a key of harness.servers.COMMANDS
    extra_args: tuple
    description: str
    capacity: int | None = None  # requests it can run at once; None: unbounded
    # False: an anchor that serves only the say-after contract, not the site.
    django: bool = True
    env: tuple = ()  # (name, value) pairs for the server's environment


CONFIGS = [
    Config(
        "runserver-wsgi",
        "runserver-wsgi",
        (),
        "manage.py runserver --noasgi: Django's WSGI dev server, a thread per request",
    ),
    Config(
        "runserver-asgi",
        "runserver",
        (),
        "manage.py runserver: Daphne's ASGI dev server",
    ),
    Config(
        "gunicorn-sync",
        "gunicorn",
        ("--workers", "1", "--threads", "1"),
        "gunicorn WSGI, 1 worker x 1 thread",
        capacity=1,
    ),
    Config(
        "gunicorn-10x10",
        "gunicorn",
        ("--workers", "10", "--threads", "10"),
        "gunicorn WSGI, 10 workers x 10 threads (the guide's WSGI equivalent)",
        capacity=100,
    ),
    Config("uvicorn", "uvicorn", (), "uvicorn, 1 worker"),
    Config(
        "uvicorn-stock",
        "uvicorn",
        (),
        "uvicorn, 1 worker, Django as shipped (DJANGO_STOCK=1): its own handler "
        "and middleware, for comparison",
        env=(("DJANGO_STOCK", "1"),),
    ),
    Config(
        "uvicorn-per-cpu",
        "uvicorn",
        ("--workers", str(CPUS)),
        f"uvicorn, {CPUS} workers (one per CPU)",
    ),
    Config("daphne", "daphne", (), "daphne, 1 process"),
    Config(
        "gunicorn-uvicorn",
        "gunicorn-uvicorn",
        ("--workers", str(CPUS)),
        f"gunicorn + UvicornWorker, {CPUS} workers (one per CPU)",
    ),
    Config(
        "gunicorn-asgi",
        "gunicorn-asgi",
        ("--workers", str(CPUS)),
        f"gunicorn 27's own ASGI worker (-k asgi), {CPUS} workers (one per CPU)",
    ),
    Config("granian", "granian", (), "granian --interface asgi, 1 worker"),
    Config(
        "granian-per-cpu",
        "granian",
        ("--workers", str(CPUS)),
        f"granian --interface asgi, {CPUS} workers (one per CPU)",
    ),
    Config("hypercorn", "hypercorn", (), "hypercorn, 1 worker"),
    Config(
        "django-bolt",
        "bolt",
        (),
        "django-bolt, 1 process: what a reader might pick instead; it skips "
        "Django's handler, middleware and URL resolver",
        django=False,
        env=(("DJANGO_SETTINGS_MODULE", "bench.bolt_settings"),),
    ),
    Config(
        "raw-asgi",
        "raw-asgi",
        (),
        "a bare ASGI app that only sleeps, on uvicorn: the floor",
        django=False,
    ),
]
NAMES = [config.name for config in CONFIGS]


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    concurrency: int
    requests: int | None = None
    duration: float | None = None
    floor: float = 0.0  # the least a request can take: its delay
    raw: bool = False  # also run against the raw ASGI app
    # "load": time every request; "abandon": the clients hang up after 0.5 s,
    # then time how long the server takes to answer a trivial request again.
    kind: str = "load"

    @property
    def warmup_path(self):
        """The same request with no waiting, sent once before measuring: first
        requests build caches and clients that a running server already has."""
        return re.sub(r"\bdelay=[0-9.]+", "delay=0", self.path)

    def queue_seconds(self, capacity, per_request):
        """How long a server holding `capacity` requests at once needs for this."""
        if capacity is None or self.requests is None:
            return 0.0
        return math.ceil(self.requests / capacity) * per_request


def workloads(quick=False):
    """The guide's floods, the fan-out and a throughput run; --quick shrinks them
    (the say-after contract takes whole seconds, so its delay stays 1 s)."""
    delay = 1 if quick else 3
    flood = 10 if quick else 100
    tasks, task_delay = (3, 0.2) if quick else (10, 1)
    readers = 3 if quick else 10
    say = f"delay={delay}&word=hello"
    fan_out = f"n={tasks}&delay={task_delay}"
    storm = "n=5&delay=1" if quick else "n=20&delay=3"
    plan = [
        Workload(f"say-after async x{flood}", f"/api/say-after?{say}", flood, flood,
                 floor=delay, raw=True),
        Workload(f"say-sync x{flood}", f"/api/say-sync?{say}", flood, flood, floor=delay),
    ]  # fmt: skip
    if not quick:
        plan += [
            Workload("say-after async x1000", f"/api/say-after?{say}", 1000, 1000,
                     floor=delay, raw=True),
            Workload("say-sync x1000", f"/api/say-sync?{say}", 1000, 1000, floor=delay),
        ]  # fmt: skip
    plan += [
        Workload(f"fan-out async {tasks}x{task_delay}s", f"/aggregator/bounded/?{fan_out}",
                 readers, readers, floor=task_delay),
        Workload(f"fan-out sync loop {tasks}x{task_delay}s", f"/aggregator/sync-loop/?{fan_out}",
                 readers, readers, floor=tasks * task_delay),
        Workload("throughput delay 0", "/api/say-after?delay=0&word=hello", 50,
                 duration=0.5 if quick else 10, raw=True),
        # Last: a server that cannot cancel (WSGI) stays busy with it for long.
        Workload(f"abandoned fan-outs x{flood}", f"/aggregator/bounded/?{storm}",
                 flood, flood, kind="abandon"),
    ]  # fmt: skip
    return plan
