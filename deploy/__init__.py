"""Everything for more than one process: nginx.conf, compose.yaml, the local
cluster (cluster.py, services.py) and its soak (soak.py)."""
