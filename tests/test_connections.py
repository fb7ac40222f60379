"""Persistent connections against Django's pool, on a PostgreSQL of its own
(max_connections 100) under a real uvicorn: why this project uses the pool.
It brings its own PostgreSQL, so it runs in the SQLite pass."""

import os

import pytest

from deploy.cluster import prepare_database
from deploy.services import own_postgres
from harness.connections import NO_POOL_SECONDS, burst

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="brings its own PostgreSQL; it runs in the SQLite pass",
    ),
]

NO_POOL = {"DJANGO_SETTINGS_MODULE": "harness.no_pool_settings"}


@pytest.fixture(scope="module")
def postgres():
    with own_postgres() as server:
        prepare_database({"DATABASE_URL": server.url})
        yield server


def test_the_pool_answers_every_request_on_its_twenty_connections(postgres):
    """200 concurrent queries: all answered, never more than the pool's 20
    connections open at once."""
    statuses, peak, _ = burst(postgres, {"DATABASE_URL": postgres.url})
    assert statuses == [200] * 200
    assert peak <= 20


@pytest.mark.parametrize("stock", [False, True], ids=["lean", "as-shipped"])
def test_persistent_connections_pile_up_and_run_out(postgres, stock):
    """CONN_MAX_AGE=60 and no pool: 200 queries of 1 s at once, each on a
    thread of its own, so each opens a connection of its own and 200 ask for
    PostgreSQL's 100. Those past the limit are refused; the answered ones
    held one connection each, still open 2 s after the burst. The lean path
    answers the refused ones with the 503 JSON."""
    # The cap on request threads raised past the burst: a thread, and so a
    # connection, for each of the 200 (tests/test_bounds.py holds the cap).
    env = {"DATABASE_URL": postgres.url, "REQUEST_THREADS": "250", **NO_POOL}
    if stock:
        env["DJANGO_STOCK"] = "1"
    statuses, peak, after = burst(postgres, env, seconds=NO_POOL_SECONDS)
    refused = [code for code in statuses if code != 200]
    print(f"\n{len(refused)} refused, {peak} connections at the peak, {after} after")
    # All that PostgreSQL allows (100, less the 3 it keeps for superusers)...
    assert peak >= 90
    # ...one per answered request: no thread reused another's connection...
    assert abs((len(statuses) - len(refused)) - peak) <= 5, (len(refused), peak)
    # ...and still open after the burst.
    assert after >= peak - 5
    if not stock:
        assert set(refused) == {503}
