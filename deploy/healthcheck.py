"""The container's health check: `python -m deploy.healthcheck`.

Asks this machine's server for /healthz and exits 0 on a 200. It sends the
first allowed host as the Host header, since Django refuses any other.
"""

import os
import sys
import urllib.request


def main():
    port = os.environ.get("PORT", "8000")
    hosts = os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")
    host = hosts[0].strip().lstrip(".")
    if host in ("", "*"):
        host = "localhost"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": host}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
