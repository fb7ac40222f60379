"""The site's settings with the Redis probe's views (bench/redis_probe_urls.py),
for `make figures` (redis-cache): DJANGO_SETTINGS_MODULE=bench.redis_probe_settings
with REDIS_URL set."""

from mysite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.redis_probe_urls"
