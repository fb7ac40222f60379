"""What one more middleware costs: the peak thread count of one uvicorn
process while 500 requests wait 2 s each, with the seven lean classes and
one more. Run from this folder: `python measure.py` (about a minute)."""

import datetime
import platform
import sys
from importlib.metadata import version

from tests.server import peak_threads, uvicorn

EXTRA = [
    ("none", ""),
    ("Django's LocaleMiddleware", "django.middleware.locale.LocaleMiddleware"),
    ("leanasgi's LocaleMiddleware", "leanasgi.middleware.LocaleMiddleware"),
    ("Django's GZipMiddleware", "django.middleware.gzip.GZipMiddleware"),
    ("leanasgi's GZipMiddleware", "leanasgi.middleware.GZipMiddleware"),
    ("Django's ConditionalGetMiddleware", "django.middleware.http.ConditionalGetMiddleware"),
    ("leanasgi's ConditionalGetMiddleware", "leanasgi.middleware.ConditionalGetMiddleware"),
    ("a project's own MiddlewareMixin class", "tests.middleware_probe.Timing"),
    (f"WhiteNoise {version('whitenoise')}", "whitenoise.middleware.WhiteNoiseMiddleware"),
    (f"django-cors-headers {version('django-cors-headers')}", "corsheaders.middleware.CorsMiddleware"),
]  # fmt: skip
WAITING = 500


def threads_while_waiting(extra):
    """Threads before, and at the peak while WAITING requests wait 2 s."""
    env = {"LEANASGI_EXTRA_MIDDLEWARE": extra, "LEANASGI_MAX_THREADS": "1000"}
    with uvicorn(env) as (url, process):
        return peak_threads(process, f"{url}/wait?delay=2", WAITING)


def main():
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"# {now}, Python {platform.python_version()}, Django {version('django')},"
        f" uvicorn {version('uvicorn')}; written by `python measure.py` in leanasgi/"
    )
    print(f"# peak threads of one uvicorn process while {WAITING} async views wait 2 s")
    print("| one more middleware | threads before | at the peak | added |")
    print("| --- | --- | --- | --- |")
    for name, extra in EXTRA:
        before, peak = threads_while_waiting(extra)
        print(f"| {name} | {before} | {peak} | {peak - before} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
