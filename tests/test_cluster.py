"""Past one process: nginx in front of two app servers sharing PostgreSQL, as
`make cluster` starts them (deploy/cluster.py), with faults done on purpose.

The cluster brings its own PostgreSQL, so these tests run once in CI, in the
SQLite pass, and skip when DATABASE_URL points the suite at another database.
"""

import asyncio
import os
import resource
import shlex
import threading
import time

import httpx2
import pytest
import yaml

from deploy import soak as soak_module
from deploy.cluster import (
    WORKER_COMMAND,
    WORKER_ENV,
    AppServer,
    cluster_env,
    running_cluster,
)
from deploy.services import PG_MAX_CONNECTIONS
from harness.servers import BASE_DIR, CSRF, free_port, output

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="the cluster brings its own PostgreSQL; it runs in the SQLite pass",
    ),
]

SAY = "/api/say-after?delay={delay}&word=cluster"


@pytest.fixture(scope="module")
def cluster():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with running_cluster(workers=2) as cluster:
        yield cluster


def served_by(response):
    return response.headers.get("x-served-by", "")


def answered_by(cluster, response):
    """The app server whose answer this is: the last one nginx tried."""
    return last_tried(cluster, served_by(response))


def last_tried(cluster, served):
    last = served.split(",")[-1].strip()
    names = {app.address: name for name, app in cluster.apps.items()}
    return names.get(last, last)


async def concurrent_gets(url, path, count, timeout=30):
    """`count` GETs at once; each a response or the exception it raised."""
    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(
        base_url=url, limits=limits, timeout=timeout
    ) as client:
        return await asyncio.gather(
            *(client.get(path) for _ in range(count)), return_exceptions=True
        )


def in_background(coroutine):
    """Run `coroutine` on its own thread; a function that waits for its result."""
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(value=asyncio.run(coroutine))
    )
    thread.start()

    def wait():
        thread.join()
        return result["value"]

    return wait


@pytest.fixture
def app1(cluster):
    """app1, to kill or stop: it is started again afterwards, on its port."""
    app = cluster.apps["app1"]
    yield app
    app.stop()
    app.start()
    # nginx takes a failed server out for fail_timeout (5 s): wait until it
    # sends requests to app1 again, so the next test starts with both.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answers = [httpx2.get(cluster.url + SAY.format(delay=0)) for _ in range(4)]
        if any(served_by(answer) == "app1" for answer in answers):
            return
        time.sleep(0.5)
    raise AssertionError("nginx did not send requests to the restarted app1")


def likes(url, post):
    return httpx2.get(f"{url}/api/blog/{post}", timeout=10).json()["likes"]


def test_requests_spread_over_both_servers(cluster):
    """1000 concurrent 2 s say-afters through nginx: none fails, and each app
    server answers 35 to 65% of them, as its X-Served-By header says."""
    responses = asyncio.run(concurrent_gets(cluster.url, SAY.format(delay=2), 1000))
    assert [getattr(r, "status_code", r) for r in responses] == [200] * 1000
    share = {name: 0 for name in cluster.apps}
    for response in responses:
        share[served_by(response)] += 1
    print(f"\nspread over the app servers: {share}")
    for name, count in share.items():
        assert 350 <= count <= 650, (name, share)


def test_nginx_limits_bodies_and_streams_unbuffered(cluster):
    """nginx refuses a body over 1 MB itself (413), and passes an event stream
    on as it is written: a post's first event arrives at once, not when nginx's
    buffer fills."""
    too_big = httpx2.post(f"{cluster.url}/api/blog/1/like", content=b"x" * 2_000_000)
    assert too_big.status_code == 413
    started = time.monotonic()
    with httpx2.stream("GET", f"{cluster.url}/blog/1/events/", timeout=10) as events:
        assert events.status_code == 200
        first = next(line for line in events.iter_lines() if line.startswith("data: "))
    assert int(first.removeprefix("data: ")) >= 0
    assert time.monotonic() - started < 1


def test_a_crash_costs_only_what_was_in_flight_and_never_a_double_like(cluster, app1):
    """kill -9 on app1's whole process group while 500 two-second GETs and a
    stream of likes are in flight. Only requests that were on app1 may fail
    (nginx retries the GETs it can on app2); every request sent afterwards
    succeeds on app2; and the like count rises by the 200 answers, never by a
    like sent twice (a POST that reached app1 is not sent to app2). Every
    X-Served-By names the servers tried, the answering one last."""
    before = likes(cluster.url, 1)
    wait_gets = in_background(concurrent_gets(cluster.url, SAY.format(delay=2), 500))
    like_answers = []

    def like_steadily(seconds):
        end = time.monotonic() + seconds
        with httpx2.Client(base_url=cluster.url, timeout=10) as client:
            while time.monotonic() < end:
                try:
                    like_answers.append(client.post("/api/blog/1/like", headers=CSRF))
                except httpx2.HTTPError as exc:
                    like_answers.append(exc)

    liker = threading.Thread(target=like_steadily, args=(3,))
    liker.start()
    time.sleep(1)  # the GETs are all in flight, half of them on app1
    app1.kill()
    killed_at = time.monotonic()
    gets = wait_gets()
    liker.join()

    assert not [r for r in gets if isinstance(r, Exception)]  # nginx answered all
    tried = {served_by(r) for r in gets}
    assert tried <= {"app1", "app2", "app1, app2", "app2, app1"}, tried
    failed = [r for r in gets if r.status_code != 200]
    retried = [r for r in gets if "," in served_by(r)]
    for response in failed:
        # nginx answered for the dead server: a 502 that names app1.
        assert response.status_code == 502
        assert answered_by(cluster, response) == "app1"
    after = [httpx2.get(cluster.url + SAY.format(delay=0)) for _ in range(50)]
    assert {(r.status_code, answered_by(cluster, r)) for r in after} == {(200, "app2")}

    ok = sum(getattr(r, "status_code", None) == 200 for r in like_answers)
    bad_gateway = sum(getattr(r, "status_code", None) == 502 for r in like_answers)
    rise = likes(cluster.url, 1) - before
    print(
        f"\ncrash: {len(gets)} GETs, {len(failed)} failed, {len(retried)} retried on"
        f" app2; likes: {ok} answered 200, {bad_gateway} 502, count rose {rise}"
    )
    assert len(failed) + len(retried) > 0  # app1 really had requests in flight
    # A like whose UPDATE committed just before the kill, but whose answer was
    # lost, is counted once and answered 502: the rise can exceed the 200s by
    # those at most, and a retried POST would push it past that.
    assert ok <= rise <= ok + bad_gateway
    assert time.monotonic() - killed_at < 15


def test_graceful_stop_finishes_what_it_has(cluster, app1):
    """SIGTERM to app1 while its three-second requests are in flight: every
    one completes with 200, and nginx sends the new requests to app2."""
    wait_gets = in_background(concurrent_gets(cluster.url, SAY.format(delay=3), 200))
    time.sleep(1)
    app1.terminate()
    time.sleep(0.5)  # for gunicorn to pass the signal on to its workers
    during = [httpx2.get(cluster.url + SAY.format(delay=0)) for _ in range(20)]
    gets = wait_gets()
    statuses = [getattr(r, "status_code", r) for r in gets]
    on_app1 = sum(served_by(r) == "app1" for r in gets)
    print(f"\ngraceful stop: {on_app1} of 200 were on app1 when it got SIGTERM")
    assert statuses == [200] * 200
    assert on_app1 >= 60  # a real share was in flight on app1
    assert {(r.status_code, answered_by(cluster, r)) for r in during} == {(200, "app2")}
    assert app1.process.wait(timeout=10) == 0  # it exited by itself, cleanly


def test_a_restart_with_pages_open_moves_them_to_the_other_server(cluster, app1):
    """500 pages open on a post's live likes through nginx, SIGTERM to app1:
    each of app1's pages sees its stream end and reconnects, with
    Last-Event-ID, to app2 within 5 s; app1 exits cleanly within 5 s; and a
    like made during the switch reaches every page and counts once. Its POST
    may meet nginx's 502 once, as app1 stops: nginx does not send a POST that
    reached a server on to the other (a like must not count twice), so the
    person clicks again, and the second click is answered."""
    post = 2
    pages = 500

    async def scenario():
        limits = httpx2.Limits(max_connections=pages + 10)
        async with httpx2.AsyncClient(
            base_url=cluster.url, limits=limits, timeout=30
        ) as client:
            opened = await asyncio.gather(
                *(follow_page(client, post) for _ in range(pages))
            )
            on_app1 = sum(page.servers[0] == "app1" for page in opened)
            before = (await client.get(f"/api/blog/{post}")).json()["likes"]
            await asyncio.to_thread(app1.terminate)
            stopped = time.monotonic()
            liked, clicks = await like_until_answered(client, post)
            assert clicks[-1] == 200 and set(clicks) <= {200, 502}, clicks
            async with asyncio.timeout(10):
                await asyncio.gather(*(page.until(liked) for page in opened))
            exited = await asyncio.to_thread(app1.process.wait, 5)
            return opened, on_app1, stopped, exited, clicks, liked - before

    opened, on_app1, stopped, exited, clicks, counted = asyncio.run(scenario())
    moved = [page for page in opened if page.servers[0] == "app1"]
    print(
        f"\nrestart with pages open: {on_app1} of {pages} pages were on app1;"
        f" the like answered {clicks}"
    )
    assert len(clicks) <= 2
    # A stopping server finishes what it has begun, so a click nginx
    # answered 502 never ran: the like counts once, however many clicks.
    assert counted == 1
    assert on_app1 >= 100  # a real share was on app1
    # Where each of app1's pages reconnected, the last server nginx tried
    # each time: app1 again at most while it stops (its stream ends at once).
    landed = [[last_tried(cluster, s) for s in page.servers[1:]] for page in moved]
    assert all(hops[-1] == "app2" and set(hops) <= {"app1", "app2"} for hops in landed)
    assert all(page.reconnected_at - stopped < 5 for page in moved)
    assert exited == 0


class Page:
    """A browser's EventSource on one post: it follows the count, and when its
    stream ends it reconnects at once with Last-Event-ID, as a browser does."""

    def __init__(self, client, post):
        self.client, self.post = client, post
        self.count, self.servers, self.reconnected_at = -1, [], None
        self.changed = asyncio.Condition()

    async def open(self):
        headers = {"Last-Event-ID": str(self.count)} if self.count >= 0 else {}
        request = self.client.build_request(
            "GET", f"/blog/{self.post}/events/", headers=headers
        )
        response = await self.client.send(request, stream=True)
        assert response.status_code == 200
        self.servers.append(served_by(response))
        return response

    async def run(self, response):
        while True:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: reconnect":
                    async with self.changed:
                        self.count = int(line.removeprefix("data: "))
                        self.changed.notify_all()
            await response.aclose()
            response = await self.open()
            self.reconnected_at = time.monotonic()

    async def until(self, count):
        async with self.changed:
            await self.changed.wait_for(lambda: self.count >= count)
        self.task.cancel()


async def like_until_answered(client, post, clicks=3):
    """Like as a person does: click again after a 502. The count the last
    click answered (None unless it answered 200), and each click's status."""
    statuses = []
    for _ in range(clicks):
        answer = await client.post(f"/api/blog/{post}/like", headers=CSRF)
        statuses.append(answer.status_code)
        if answer.status_code != 502:
            break
    return (answer.json()["likes"] if answer.is_success else None), statuses


async def follow_page(client, post):
    page = Page(client, post)
    response = await page.open()
    page.task = asyncio.create_task(page.run(response))
    async with page.changed:
        await page.changed.wait_for(lambda: page.count >= 0)
    return page


@pytest.fixture
def dead_upstream(cluster):
    """Both app servers restarted with their fan-out's upstream on a closed
    port, as when the service behind them is down; restored afterwards."""
    closed = f"http://127.0.0.1:{free_port()}/json"
    for app in cluster.apps.values():
        app.stop()
        app.env = {**app.env, "AGGREGATOR_UPSTREAM_URL": closed}
        app.start()
    yield cluster
    for app in cluster.apps.values():
        app.stop()
        app.env = {k: v for k, v in app.env.items() if k != "AGGREGATOR_UPSTREAM_URL"}
        app.start()
    time.sleep(5)  # past fail_timeout, in case a server was taken out


def test_a_dead_upstream_service_leaves_both_app_servers_in_rotation(dead_upstream):
    """300 fan-outs in 10 s to a service that is down each get the app's own
    502 JSON, from exactly one app server (nginx neither retries nor counts
    an answer the app gives on purpose), while 1000 blog reads sent meanwhile
    all succeed, spread over both servers."""
    cluster = dead_upstream
    before = {name: fan_out_502s(app) for name, app in cluster.apps.items()}

    async def both():
        limits = httpx2.Limits(max_connections=200)
        async with httpx2.AsyncClient(
            base_url=cluster.url, limits=limits, timeout=30
        ) as client:

            async def fan_outs():
                sent = []
                for _ in range(10):  # 30 a second for 10 s
                    sent += [
                        asyncio.create_task(
                            client.get("/aggregator/bounded/?n=3&delay=0")
                        )
                        for _ in range(30)
                    ]
                    await asyncio.sleep(1)
                return await asyncio.gather(*sent)

            async def reads():
                gate = asyncio.Semaphore(100)

                async def read():
                    async with gate:
                        return await client.get("/blog/")

                return await asyncio.gather(*(read() for _ in range(1000)))

            return await asyncio.gather(fan_outs(), reads())

    fan_outs, reads = asyncio.run(both())
    assert {r.status_code for r in fan_outs} == {502}
    assert all(r.headers["content-type"] == "application/json" for r in fan_outs)
    assert all(r.json()["errors"] == 3 for r in fan_outs)
    assert all("," not in served_by(r) for r in fan_outs)  # one server each
    answered = {
        name: fan_out_502s(app) - before[name] for name, app in cluster.apps.items()
    }
    print(f"\nfan-outs answered 502 by each app server: {answered}")
    assert sum(answered.values()) == 300, answered
    assert [r.status_code for r in reads] == [200] * 1000
    spread = {name: sum(served_by(r) == name for r in reads) for name in cluster.apps}
    print(f"blog reads meanwhile, by app server: {spread}")
    assert all(count >= 200 for count in spread.values()), spread


def fan_out_502s(app):
    """The fan-outs this app server has answered 502, as Django logged them."""
    return output(app.process).count("Bad Gateway: /aggregator/bounded/")


def test_database_restart(cluster):
    """PostgreSQL restarted (pg_ctl restart -m fast) under a read load: requests
    fail fast with a 503 JSON answer, never a 500 or a hang past the pool's
    timeout, and within 5 s of its return every request succeeds again."""
    answers = []
    stop = threading.Event()

    def read():
        with httpx2.Client(base_url=cluster.url, timeout=30) as client:
            while not stop.is_set():
                started = time.monotonic()
                response = client.get("/blog/1/")
                answers.append((started, time.monotonic() - started, response))

    readers = [threading.Thread(target=read) for _ in range(8)]
    for reader in readers:
        reader.start()
    time.sleep(1)
    cluster.postgres.restart()
    back = time.monotonic()
    time.sleep(7)
    stop.set()
    for reader in readers:
        reader.join()

    failures = [(took, r) for _, took, r in answers if r.status_code != 200]
    print(f"\ndatabase restart: {len(answers)} reads, {len(failures)} answered 503")
    for took, response in failures:
        assert response.status_code == 503
        assert response.json()["error"].startswith("the database is unavailable")
        assert took < 5 + 1  # the pool's timeout (DATABASE_POOL_TIMEOUT), and a margin
    late = [r.status_code for started, _, r in answers if started > back + 5]
    assert late and set(late) == {200}


def test_soak(cluster):
    """30 s of the soak's mixed load through nginx (make soak runs 5 minutes):
    no failure, likes exact, RSS growth under 10% after the warm-up, and no more
    PostgreSQL connections than the pools allow."""
    outcome = soak_module.soak(cluster, 30, progress=print)
    print(outcome.summary())
    assert outcome.passed, outcome.summary()
    assert sum(outcome.sent.values()) > 1000


def test_compose_describes_the_same_topology():
    """deploy/compose.yaml has the services, ports, environment and command
    that make cluster runs."""
    compose = yaml.safe_load((BASE_DIR / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {
        "postgres", "redis", "migrate", "app1", "app2", "worker", "nginx"
    }  # fmt: skip
    assert services["worker"]["command"] == " ".join(["python", *WORKER_COMMAND])
    worker_env = {**services["app1"]["environment"], **WORKER_ENV}
    assert services["worker"]["environment"] == worker_env

    cluster_command = [str(part) for part in AppServer("app1", 8000, {}, 2).command()]
    expected_env = set(cluster_env("postgres://", "redis://"))
    for name in ("app1", "app2"):
        service = services[name]
        command = shlex.split(service["command"])
        # The same gunicorn line; only the binary's path and the address differ.
        assert command[0] == "gunicorn"
        assert command[1:-1] == cluster_command[1:-1]
        assert command[-1] == "0.0.0.0:8000"
        assert set(service["environment"]) == expected_env
        assert service["environment"]["DJANGO_DEBUG"] == "0"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")

    nginx = services["nginx"]
    assert nginx["ports"] == ["8080:8080"]
    assert nginx["environment"] == {
        "APP_SERVER_1": "app1:8000",
        "APP_SERVER_2": "app2:8000",
        "CLUSTER_PORT": "8080",
    }
    assert nginx["volumes"][0].startswith("./nginx.conf:/etc/nginx/templates/")
    assert f"max_connections={PG_MAX_CONNECTIONS}" in services["postgres"]["command"]
