"""WSGI entry point: `gunicorn mysite.wsgi:application`, `runserver --noasgi`.

The same ServeStatic layer as in mysite/asgi.py answers /static/... first.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from servestatic import ServeStatic

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

django_application = get_wsgi_application()
application = ServeStatic(
    django_application, root=settings.STATIC_ROOT, prefix=settings.STATIC_URL
)
