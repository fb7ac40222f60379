from django.contrib import admin
from django.urls import include, path

from . import views
from .api import api

urlpatterns = [
    # ex: / (the index of every demo)
    path("", views.index, name="index"),
    # ex: /healthz (the container's health check)
    path("healthz", views.healthz, name="healthz"),
    # ex: /aggregator/async/?n=10&delay=1
    path("aggregator/", include("aggregator.urls")),
    # ex: /blog/1/
    path("blog/", include("blog.urls")),
    # ex: /api/say-after?delay=3&word=hello, /api/docs
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]
