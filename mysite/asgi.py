"""ASGI entry point: `uvicorn mysite.asgi:application`, daphne, runserver.

Static files are answered by ServeStatic before Django is reached, so a request
for /static/... costs no middleware and no view; every other path goes straight
to Django's ASGI handler.
"""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from servestatic import ServeStaticASGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

django_application = get_asgi_application()
application = ServeStaticASGI(
    django_application, root=settings.STATIC_ROOT, prefix=settings.STATIC_URL
)
