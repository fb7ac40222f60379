"""`uvicorn tests.asgi:application`, run from leanasgi/, as an adopter writes it,
plus one receiver the tests need connected early."""

import os

import django
from django.core.signals import request_finished, request_started

import leanasgi

from . import views

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup(set_prefix=False)
# Connected before the application is built, as an app's ready() would be: it
# runs before Django's clean-up, and can stop it by raising.
request_finished.connect(views.raise_if_asked)
if os.environ.get("LEANASGI_SYNC_RECEIVER") == "1":
    request_started.connect(views.sync_receiver)
application = leanasgi.get_asgi_application(
    lean=os.environ.get("LEANASGI_STOCK", "") != "1"
)
