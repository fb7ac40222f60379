"""A minimal project for leanasgi's own tests: Django's contrib apps, the
package's middleware, and probe views (tests/views.py). DEBUG is on, so
`connection.queries` records what a thread left behind."""

import os
import tempfile
from pathlib import Path

DEBUG = True
SECRET_KEY = "leanasgi-tests-only"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "tests.urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "leanasgi",
]
MIDDLEWARE = [
    "leanasgi.middleware.SecurityMiddleware",
    "leanasgi.middleware.SessionMiddleware",
    "leanasgi.middleware.CommonMiddleware",
    "leanasgi.middleware.CsrfViewMiddleware",
    "leanasgi.middleware.AuthenticationMiddleware",
    "leanasgi.middleware.MessageMiddleware",
    "leanasgi.middleware.XFrameOptionsMiddleware",
]
# One more, for measure.py's table: LEANASGI_EXTRA_MIDDLEWARE=dotted.path,...
MIDDLEWARE += [
    m for m in os.environ.get("LEANASGI_EXTRA_MIDDLEWARE", "").split(",") if m
]
STATIC_URL = "static/"
STATIC_ROOT = Path(tempfile.gettempdir()) / "leanasgi-static"  # WhiteNoise's
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": ["django.template.context_processors.request"]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("LEANASGI_TEST_DB", tempfile.gettempdir()))
        / "leanasgi-tests.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LEANASGI_IDLE_THREADS = 16
# The cap's tests serve with a small one (tests/test_cap.py).
LEANASGI_MAX_THREADS = int(os.environ.get("LEANASGI_MAX_THREADS", 100))
LEANASGI_THREAD_WAIT = float(os.environ.get("LEANASGI_THREAD_WAIT", 30))
LEANASGI_EXPLAIN_THREADS = os.environ.get("LEANASGI_EXPLAIN_THREADS", "1") == "1"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"leanasgi.threads": {"level": "INFO"}},
}
