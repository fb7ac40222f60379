"""`uvicorn tests.asgi:application`, run from leanasgi/, as an adopter writes it."""

import os

import leanasgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
application = leanasgi.get_asgi_application(
    lean=os.environ.get("LEANASGI_STOCK", "") != "1"
)
