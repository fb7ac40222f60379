from django.urls import path

from . import views

app_name = "aggregator"
urlpatterns = [
    path("say-after/sync/", views.say_after_sync, name="say_after_sync"),
    path("say-after/async/", views.say_after_async, name="say_after_async"),
]
