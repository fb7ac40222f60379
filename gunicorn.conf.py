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
