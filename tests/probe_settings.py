"""The site's settings plus probe views (tests/probe_urls.py), for the lean
handler's safety tests against a real server: DJANGO_SETTINGS_MODULE=tests.probe_settings."""

from mysite.settings import *  # noqa: F403

ROOT_URLCONF = "tests.probe_urls"
