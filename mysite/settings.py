"""Settings for the async views reference site, read from the environment.

Development needs no variable at all. Production sets DJANGO_DEBUG=0,
DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS (see docs/settings.md and the Dockerfile).
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name, default):
    """Read an on/off variable: 1/true/yes/on or 0/false/no/off."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_flag("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # A one-line message rather than a traceback: this is a deployment mistake.
        sys.exit("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0.")
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    # First, so that `runserver` is daphne's: ASGI with autoreload.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Ninja's own static files: the API docs work offline, with no CDN.
    "ninja",
    # The lean ASGI path: its system checks (leanasgi/README.md).
    "leanasgi",
    # The tasks' table, and the worker: python manage.py db_worker.
    "django_tasks_db",
    "aggregator",
    "blog",
    "lab",
]

# Django's stock middleware as leanasgi's subclasses, whose hooks run on the
# event loop instead of a thread hop each under ASGI (leanasgi/README.md).
MIDDLEWARE = [
    "mysite.middleware.ServerTimingMiddleware",
    "mysite.middleware.JsonApiErrorsMiddleware",
    "leanasgi.middleware.SecurityMiddleware",
    "leanasgi.middleware.ContentSecurityPolicyMiddleware",
    # Outside the session, so a database error while saving it gets a 503
    # JSON answer too (security headers still set), not a 500.
    "mysite.middleware.DatabaseUnavailableMiddleware",
    "leanasgi.middleware.SessionMiddleware",
    "leanasgi.middleware.CommonMiddleware",
    "leanasgi.middleware.CsrfViewMiddleware",
    "leanasgi.middleware.AuthenticationMiddleware",
    "leanasgi.middleware.MessageMiddleware",
    "leanasgi.middleware.XFrameOptionsMiddleware",
]

# Django exactly as shipped, for comparison only: DJANGO_STOCK=1 serves with
# Django's own middleware classes and its stock ASGI handler (mysite/asgi.py);
# the benchmark's uvicorn-stock row measures what the two cost.
DJANGO_STOCK = env_flag("DJANGO_STOCK", False)
STOCK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if DJANGO_STOCK:
    MIDDLEWARE = STOCK_MIDDLEWARE


ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "mysite.asgi.application"
# Idle request threads the lean ASGI handler keeps for the next requests that
# run sync code; past these, a thread ends with its request.
LEANASGI_IDLE_THREADS = int(os.environ.get("IDLE_REQUEST_THREADS", 16))
# At most this many request threads at once, per process: past it a request
# that runs sync code waits for one, at most LEANASGI_THREAD_WAIT seconds,
# then gets a 503. Django's own handler has no cap (leanasgi/README.md).
LEANASGI_MAX_THREADS = int(os.environ.get("REQUEST_THREADS", 100)) or None  # 0: none
LEANASGI_THREAD_WAIT = float(os.environ.get("REQUEST_THREAD_WAIT", 30))
WSGI_APPLICATION = "mysite.wsgi.application"

# SQLite by default; DATABASE_URL=postgres://user:pass@host/name for PostgreSQL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Never keep connections across requests: under ASGI each request runs
        # its sync code in a thread of its own, which would leak one each.
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers and a writer work at once; IMMEDIATE takes the write
        # lock up front and the timeout waits for it, instead of failing at
        # once with "database is locked" when async writes overlap.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's psycopg pool: a request borrows a connection and gives it back
    # at the end, instead of opening one (CONN_MAX_AGE = 0 is required with it).
    # The pool checks a connection before lending it (CONN_HEALTH_CHECKS), so
    # after a database restart the dead ones are replaced, not handed out; and
    # a request waits at most `timeout` seconds for one, then gets a 503.
    # Processes x max_size must stay under PostgreSQL's max_connections.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 2,
            "max_size": int(os.environ.get("DATABASE_POOL_SIZE", 20)),
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", 5)),
        },
    }
    INSTALLED_APPS.append("django.contrib.postgres")

# Background work (blog/tasks.py): a task is a row in this database until the
# worker (manage.py db_worker, started by make run) has run it.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# The blog's async login (blog/accounts.py); @login_required sends here.
LOGIN_URL = "blog:login"

# ATOMIC_REQUESTS stays off (the default): it cannot wrap an async view.

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files are served by ServeStatic from STATIC_ROOT (filled by
# `collectstatic`, which `make setup` runs), in mysite/asgi.py and mysite/wsgi.py.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The site's own (favicon.ico): mysite is a project package, not an app.
STATICFILES_DIRS = [BASE_DIR / "mysite" / "static"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django 6's Content-Security-Policy, on every response: scripts and styles
# from this site's files only, nothing inline (no page has an inline script
# or style, so none needs a nonce, and a cached page cannot carry a stale
# one), no plugins, no framing, forms posted only here. The pages, the lab,
# the live likes and the API docs (ninja's static Swagger UI) work under it
# in Chromium (tests/test_lab_browser.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# HTTPS hardening, on by default in production. DJANGO_HTTPS=0 serves plain HTTP
# with DEBUG off, as the tests and the benchmark do on loopback.
HTTPS = env_flag("DJANGO_HTTPS", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    # The container's health check asks over plain HTTP from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # TLS ends at the proxy in front, which must set this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Warnings and errors to stderr, once, in development and production alike.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"django": {"handlers": ["console"], "propagate": False}},
}

# The say-after demos sleep at most this long, so no request can hold a worker
# for an unbounded time.
SAY_AFTER_MAX_DELAY = 30
SAY_AFTER_MAX_WORD_LENGTH = 200
# The compute demos work at most this many milliseconds of CPU per request.
COMPUTE_MAX_MS = 200

# The aggregator's fan-out. Unset, AGGREGATOR_UPSTREAM_URL means this same
# server's async upstream endpoint, on whatever address it listens.
AGGREGATOR_UPSTREAM_URL = os.environ.get("AGGREGATOR_UPSTREAM_URL", "")
AGGREGATOR_CONNECT_TIMEOUT = float(os.environ.get("AGGREGATOR_CONNECT_TIMEOUT", 2))
AGGREGATOR_READ_TIMEOUT = float(os.environ.get("AGGREGATOR_READ_TIMEOUT", 10))
# No fan-out answer takes longer than this, however many calls hang.
AGGREGATOR_DEADLINE = float(os.environ.get("AGGREGATOR_DEADLINE", 10))
# Calls in flight at once per process (per event loop) for the async fan-outs:
# the shared client's pool size. Calls past it wait their turn, within their
# request's deadline, on a semaphore that costs nothing to cancel.
AGGREGATOR_MAX_IN_FLIGHT = int(os.environ.get("AGGREGATOR_MAX_IN_FLIGHT", 100))
# Workers of the one thread pool that every thread-pool fan-out shares.
AGGREGATOR_THREADS = int(os.environ.get("AGGREGATOR_THREADS", 32))
AGGREGATOR_MAX_TASKS = 100
AGGREGATOR_MAX_DELAY = 10

BLOG_MAX_QUERY_LENGTH = 200

# The login's throttle (blog/throttle.py): attempts per window, per username
# and per client address; past them a 429 with Retry-After.
LOGIN_WINDOW = int(os.environ.get("LOGIN_WINDOW", 300))  # seconds
LOGIN_ATTEMPTS_PER_USERNAME = 5
LOGIN_ATTEMPTS_PER_ADDRESS = 30
# Logins waiting for the one password-checking thread; past it a 503 at once.
LOGIN_MAX_CHECKING = 10
# The sync demos that hold a thread for seconds (say-sync, the sync
# upstream and fan-outs, the slow queries): with DJANGO_DEMOS off, at most
# this many at once, so that they cannot take every request thread
# (answers/demos.py). Unlimited with the demos on, as in development.
SLOW_DEMOS_AT_ONCE = 20

# The live lab (/lab/): a page that fires up to LAB_MAX_REQUESTS requests per
# lane at this same server and draws them as they run. On in development; with
# DEBUG off only when DJANGO_LAB=1, since one run turns one request into hundreds.
LAB = env_flag("DJANGO_LAB", DEBUG)
# Demos whose lesson is that they hurt the server (blocking sleep, the naive
# fan-out, the self-call, the sync-generator stream): a 404 unless on. On by
# default where the lab is (in development, or with DJANGO_LAB=1), which
# runs some; DJANGO_DEMOS=0/1 says otherwise (answers/demos.py).
DEMOS = env_flag("DJANGO_DEMOS", LAB)
# Server-Timing and X-View-* on every response (mysite/middleware.py): they
# name internal threads, so with DEBUG off only with this set.
DIAGNOSTIC_HEADERS = env_flag("DJANGO_DIAGNOSTIC_HEADERS", DEBUG)
LAB_MAX_REQUESTS = 200
LAB_MAX_DELAY = 5
LAB_DEADLINE = float(os.environ.get("LAB_DEADLINE", 60))  # seconds, every lane
LAB_MAX_BLOCKING = 20  # seconds the blocking-sleep lane may stop the event loop

# Live likes (blog/live.py) and the blog's page cache. Unset, the broadcast is
# in-process and there is no cache; REDIS_URL (redis://host:port/db) shares
# both between every app process.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_TIMEOUT = float(os.environ.get("REDIS_TIMEOUT", 1))  # seconds, each operation
# A comment line sent on an idle event stream so that proxies keep it open.
BLOG_EVENTS_HEARTBEAT = float(os.environ.get("BLOG_EVENTS_HEARTBEAT", 15))
BLOG_PAGE_CACHE_SECONDS = 5
# Without Redis, each process has its own cache (the login throttle counts
# per process); room for enough keys that a spray of usernames cannot push
# out the counts that matter.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
            },
        }
    }
