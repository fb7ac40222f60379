"""Real processes for the tests, the benchmark and the cluster: the project
under real servers (servers.py), upstreams that answer, fail or hang
(upstreams.py), the task worker (background.py), connection bursts
(connections.py) and a process's threads and memory (sampler.py).

It sits below all three: tests/, bench/ and deploy/ import it, and it
imports none of them."""
