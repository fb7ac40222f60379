"""The site's settings plus probe views (tests/probe_urls.py) and a middleware
that queries on request, for tests against a real server:
DJANGO_SETTINGS_MODULE=tests.probe_settings."""

from mysite.settings import *  # noqa: F403
from mysite.settings import MIDDLEWARE

ROOT_URLCONF = "tests.probe_urls"
MIDDLEWARE = [*MIDDLEWARE, "tests.probe_urls.QueryOnRequestMiddleware"]
