"""Gunicorn settings, read from this folder whenever gunicorn starts here.

Flags on the command line win, so `--threads 1` still gives the one-thread
worker that the tests and the benchmark use to show serialization.
"""

# A sync worker with one thread cannot answer a request to itself: the
# aggregator's default fan-out calls this same server, and would wait for its
# deadline. Four threads per worker let it answer (gunicorn's gthread worker).
# The uvicorn worker ignores this.
threads = 4

# The say-after demos may sleep 30 s; gunicorn's default 30 s timeout would kill
# a sync worker in the middle of one.
timeout = 60

# On SIGTERM (a deploy, a scale-down) each worker stops taking new connections
# and finishes the requests it has; gunicorn kills what is left after
# graceful_timeout. The slowest request here is a 30 s say-after (a fan-out
# ends within its 10 s deadline), so 35 s lets every one finish, and a proxy
# sends the new requests to the other servers meanwhile (tests/test_cluster.py).
graceful_timeout = 35

# How long an idle keep-alive connection stays open (the uvicorn worker takes
# it as uvicorn's --timeout-keep-alive). gunicorn's default, 2 s, is shorter
# than the 4 s nginx keeps its idle connections to the app servers
# (deploy/nginx.conf): nginx would then send a request on a connection this
# server is closing and get a reset, a 502 for a POST, which nginx never
# retries. The app server must keep them longer than the proxy does.
keepalive = 10
