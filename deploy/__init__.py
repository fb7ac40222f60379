"""Running the site as a deployment: the container's health check
(healthcheck.py), nginx.conf and compose.yaml, the local cluster (cluster.py,
services.py) and its soak (soak.py, soak_outcome.py)."""
