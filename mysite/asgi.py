"""ASGI entry point: `uvicorn mysite.asgi:application`, daphne, runserver.

Django is served by the lean handler of leanasgi/ (a request that only waits
holds no thread; DJANGO_STOCK=1 serves Django's own handler, for comparison),
behind ServeStatic, which answers /static/... before Django is reached.
"""

import os

from django.conf import settings
from servestatic import ServeStaticASGI

import leanasgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")


def with_static_files(django_application):
    return ServeStaticASGI(
        django_application, root=settings.STATIC_ROOT, prefix=settings.STATIC_URL
    )


application = leanasgi.get_asgi_application(
    wrap=with_static_files, lean=not settings.DJANGO_STOCK
)
