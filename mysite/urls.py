from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from . import views
from .api import api

urlpatterns = [
    # ex: / (the index of every demo)
    path("", views.index, name="index"),
    # ex: /healthz (the container's health check)
    path("healthz", views.healthz, name="healthz"),
    # ex: /aggregator/bounded/?n=10&delay=1
    path("aggregator/", include("aggregator.urls")),
    # ex: /blog/1/
    path("blog/", include("blog.urls")),
    # ex: /api/say-after?delay=3&word=hello, /api/docs
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    # ex: /favicon.ico (browsers ask for it on every page that names no icon)
    path(
        "favicon.ico", RedirectView.as_view(url=static("favicon.ico"), permanent=True)
    ),
]
if settings.LAB:
    # ex: /lab/?experiment=say-after&n=50&delay=1&run=1
    urlpatterns.append(path("lab/", include("lab.urls")))
