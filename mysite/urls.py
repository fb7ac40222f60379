from django.contrib import admin
from django.urls import include, path

from . import views
from .api import api

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("aggregator/", include("aggregator.urls")),
    path("blog/", include("blog.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]
