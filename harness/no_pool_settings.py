"""The site as this project does not run it, for the lesson on persistent
connections (docs/orm.md): on PostgreSQL, CONN_MAX_AGE=60 and no pool.
DJANGO_SETTINGS_MODULE=harness.no_pool_settings."""

from mysite.settings import *  # noqa: F403
from mysite.settings import DATABASES

DATABASES["default"]["OPTIONS"].pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = 60
