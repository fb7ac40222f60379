"""The site's settings plus django-bolt, for the benchmark's bolt anchor (bench/bolt.py)."""

from mysite.settings import *  # noqa: F403
from mysite.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_bolt"]
BOLT_API = ["bench.bolt:api"]
