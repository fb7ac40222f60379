"""What the tests start: the project under real servers (servers.py), and
upstreams that answer, fail or hang (upstreams.py). The benchmark starts its
servers with the same harness."""
