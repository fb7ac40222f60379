"""make cluster: nginx in front of two app servers that share one PostgreSQL.

Everything runs on this machine, from the project's own files, each app server
standing for a machine of its own:

- PostgreSQL from Debian's packages, its cluster in .cluster/pg, migrated and
  seeded;
- two app servers, each `gunicorn mysite.asgi:application -k
  uvicorn_worker.UvicornWorker` with one worker per CPU, on loopback ports;
- Redis from Debian's packages, which carries the live likes between them;
- nginx from Debian's packages on CLUSTER_PORT (8080), configured by
  deploy/nginx.conf.

`python -m bench.cluster` (make cluster) runs in the foreground and prints the
URL; Ctrl-C stops everything it started. The tests (tests/test_cluster.py) and
the soak (bench/soak.py) start the same thing with `running_cluster()`.
"""

import contextlib
import os
import pwd
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import BASE_DIR, BIN, free_port, output, started

NGINX = "/usr/sbin/nginx"
REDIS_SERVER = "/usr/bin/redis-server"
PG_GLOB = "/usr/lib/postgresql/*/bin/initdb"
APP_NAMES = ("app1", "app2")
# Headroom over what the app servers may open: 2 servers x workers x the
# Django pool's max_size (20), plus psql and the soak's sampler.
PG_MAX_CONNECTIONS = 100


def need_debian_packages():
    """Install PostgreSQL and nginx from Debian when they are missing."""
    subprocess.run(
        [
            BASE_DIR / "scripts" / "need-debian",
            f"{PG_GLOB}:postgresql",
            f"{NGINX}:nginx",
            f"{REDIS_SERVER}:redis-server",
        ],
        check=True,
    )


def pg_bin():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent


def as_postgres(command, **kwargs):
    """PostgreSQL refuses to run as root: run its tools as `postgres` then."""
    if os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *map(str, command)]
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class Postgres:
    """A PostgreSQL cluster of our own in `directory`, on `port`."""

    directory: Path
    port: int

    @property
    def data(self):
        return self.directory / "data"

    @property
    def url(self):
        return f"postgres://app@127.0.0.1:{self.port}/app"

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.directory, postgres.pw_uid, postgres.pw_gid)
        fresh = not self.data.exists()
        if fresh:
            as_postgres(
                [pg_bin() / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust"]
            )
        self.pg_ctl("start", "-w", "-l", self.directory / "log", "-o", self.options())
        if fresh:
            self.psql("CREATE ROLE app LOGIN CREATEDB")
            self.psql("CREATE DATABASE app OWNER app")

    def options(self):
        return (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
            f" -c max_connections={PG_MAX_CONNECTIONS}"
        )

    def pg_ctl(self, *args):
        as_postgres([pg_bin() / "pg_ctl", "-D", self.data, *args])

    def restart(self):
        """A fast restart, as an operator or a failover does it."""
        self.pg_ctl(
            "restart",
            "-w",
            "-m",
            "fast",
            "-l",
            self.directory / "log",
            "-o",
            self.options(),
        )

    def stop(self):
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop", "-m", "fast")

    def psql(self, sql):
        command = [pg_bin() / "psql", "-h", "127.0.0.1", "-p", str(self.port)]
        result = as_postgres([*command, "-U", "postgres", "-tAqc", sql])
        return result.stdout.strip()

    def connections(self):
        """Client connections to the app's database, right now."""
        return int(
            self.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'app'")
        )


class Redis:
    """A redis-server of our own on a free port, in memory only; it can be
    stopped and started again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while self.command("PING") != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def command(self, *args):
        """One command through redis-cli, its output as text ('' on failure)."""
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return result.stdout.strip()

    def subscribers(self, channel):
        """How many connections subscribe to `channel`, read from Redis."""
        return int(self.command("PUBSUB", "NUMSUB", channel).split()[-1])


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
        f"""# Written by bench/cluster.py around deploy/nginx.conf.
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
        yield Cluster(url, postgres, {app.name: app for app in apps}, nginx, redis)


def prepare_database(env):
    for command in (["migrate", "--noinput"], ["seed_blog"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--verbosity", "0"],
            cwd=BASE_DIR,
            env={**os.environ, **env},
            check=True,
        )


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
