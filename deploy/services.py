"""The services a deployment runs beside the app servers, each of our own on
this machine: PostgreSQL and Redis from Debian's packages, installed by
scripts/need-debian when missing. The cluster (cluster.py) and the tests that
stop a database or a broker on purpose start them."""

import contextlib
import os
import pwd
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.servers import BASE_DIR, free_port

NGINX = "/usr/sbin/nginx"  # not a service, but installed with them
REDIS_SERVER = "/usr/bin/redis-server"
PG_GLOB = "/usr/lib/postgresql/*/bin/initdb"
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


@contextlib.contextmanager
def own_postgres():
    """A PostgreSQL of its own in a temporary folder, for as long as the block."""
    need_debian_packages()
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o755)  # postgres must reach its folder inside
        postgres = Postgres(Path(directory) / "pg", free_port())
        postgres.start()
        try:
            yield postgres
        finally:
            postgres.stop()


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
