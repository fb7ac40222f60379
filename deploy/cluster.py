"""make cluster: nginx in front of two app servers that share one PostgreSQL.

Everything runs on this machine, from the project's own files, each app server
standing for a machine of its own:

- PostgreSQL from Debian's packages, its cluster in .cluster/pg, migrated and
  seeded;
- two app servers, each `gunicorn mysite.asgi:application -k
  uvicorn_worker.UvicornWorker` with one worker per CPU, on loopback ports;
- Redis from Debian's packages, which carries the live likes between them;
- nginx from Debian's packages on CLUSTER_PORT (8080), configured by
  deploy/nginx.conf;
- one task worker (manage.py db_worker) for the background work.

`python -m deploy.cluster` (make cluster) runs in the foreground and prints the
URL; Ctrl-C stops everything it started. The tests (tests/test_cluster.py) and
the soak (deploy/soak.py) start the same thing with `running_cluster()`.
"""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.background import WORKER_COMMAND, prepare_database
from harness.servers import (
    BASE_DIR,
    BIN,
    PRODUCTION_ENV,
    free_port,
    output,
    started,
)

from .services import NGINX, Postgres, Redis, need_debian_packages

APP_NAMES = ("app1", "app2")


@dataclass
class AppServer:
    name: str
    port: int
    env: dict
    workers: int
    process: subprocess.Popen | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def command(self):
        return [
            BIN / "gunicorn", "mysite.asgi:application",
            "-k", "uvicorn_worker.UvicornWorker",
            "--workers", str(self.workers),
            "--bind", self.address,
        ]  # fmt: skip

    def start(self):
        self.stack = contextlib.ExitStack()
        self.process = self.stack.enter_context(
            started(self.command(), self.url, env=self.env, timeout=60)
        )

    def stop(self):
        self.stack.close()

    def kill(self):
        """kill -9 on the whole process group: the master and every worker."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self):
        """SIGTERM to gunicorn's master: a graceful stop."""
        os.kill(self.process.pid, signal.SIGTERM)


def cluster_env(database_url, redis_url):
    """The app servers' environment: production settings on plain HTTP."""
    return {
        "DATABASE_URL": database_url,
        # Live likes cross between the app servers through Redis.
        "REDIS_URL": redis_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "cluster-" + secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # TLS would end at nginx; this one listens on plain HTTP.
        "DJANGO_HTTPS": "0",
        "DJANGO_LAB": "1",
    }


def render_nginx(directory, port, apps):
    """deploy/nginx.conf with the addresses filled in, inside a main file."""
    site = (BASE_DIR / "deploy" / "nginx.conf").read_text()
    for name, value in {
        "APP_SERVER_1": apps[0].address,
        "APP_SERVER_2": apps[1].address,
        "CLUSTER_PORT": f"127.0.0.1:{port}",
    }.items():
        site = site.replace("${" + name + "}", value)
    (directory / "site.conf").write_text(site)
    main = directory / "nginx.conf"
    main.write_text(
        f"""# Written by deploy/cluster.py around deploy/nginx.conf.
worker_processes 1;
worker_rlimit_nofile 16384;
pid {directory}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {directory}/tmp;
    proxy_temp_path {directory}/tmp;
    include {directory}/site.conf;
}}
"""
    )
    return main


@dataclass
class Cluster:
    url: str
    postgres: Postgres
    apps: dict
    nginx: subprocess.Popen
    redis: "Redis"

    def served_by(self, response):
        return response.headers.get("x-served-by", "")


@contextlib.contextmanager
def running_cluster(directory=None, port=None, workers=None):
    """Start PostgreSQL, two app servers and nginx; yield a Cluster; stop them.

    Without `directory`, a temporary one (the tests); with it, a cluster kept
    there between runs (make cluster keeps its database in .cluster/pg).
    """
    need_debian_packages()
    workers = workers or os.cpu_count() or 2
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            os.chmod(directory, 0o755)  # postgres must reach its folder inside
        directory = Path(directory)
        postgres = Postgres(directory / "pg", free_port())
        postgres.start()
        stack.callback(postgres.stop)
        redis = Redis()
        redis.start()
        stack.callback(redis.stop)
        env = cluster_env(postgres.url, redis.url)
        prepare_database(env)
        apps = [AppServer(name, free_port(), env, workers) for name in APP_NAMES]
        for app in apps:
            app.start()
            stack.callback(app.stop)
        nginx_dir = directory / "nginx"
        nginx_dir.mkdir(exist_ok=True)
        port = port or free_port()
        config = render_nginx(nginx_dir, port, apps)
        url = f"http://127.0.0.1:{port}"
        nginx_command = [NGINX, "-c", config, "-g", "daemon off;"]
        nginx = stack.enter_context(started(nginx_command, url, timeout=20))
        stack.enter_context(running_worker(env))
        yield Cluster(url, postgres, {app.name: app for app in apps}, nginx, redis)


# One task worker (blog/tasks.py) runs the background work of both servers.
# Its one thread needs one connection. The apps' pool of 20 let it grow to 3:
# its first query waits for the pool to open its min_size of 2, and a wait
# grows the pool by one. A pool of 2 bounds it.
WORKER_ENV = {"DATABASE_POOL_SIZE": "2"}


@contextlib.contextmanager
def running_worker(env):
    environment = {**os.environ, **PRODUCTION_ENV, **env, **WORKER_ENV}
    process = subprocess.Popen(
        [sys.executable, *WORKER_COMMAND],
        cwd=BASE_DIR,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


def stop_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so everything started is stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def main():
    stop_on_sigterm()
    port = int(os.environ.get("CLUSTER_PORT", 8080))
    directory = BASE_DIR / ".cluster"
    print("Starting PostgreSQL (.cluster/pg), two app servers and nginx…", flush=True)
    with running_cluster(directory, port) as cluster:
        for app in cluster.apps.values():
            print(f"  {app.name}: {app.url} (gunicorn, {app.workers} uvicorn workers)")
        print(f"  PostgreSQL: {cluster.postgres.url}")
        print(f"  Redis: {cluster.apps['app1'].env['REDIS_URL']}")
        print(f"\nServing {cluster.url}/ through nginx. Ctrl-C stops everything.")
        try:
            while all(app.process.poll() is None for app in cluster.apps.values()):
                time.sleep(0.5)
            print("An app server stopped:")
            for app in cluster.apps.values():
                print(output(app.process)[-2000:])
        except KeyboardInterrupt:
            print("\nStopping…")


if __name__ == "__main__":
    main()
