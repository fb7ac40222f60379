from django.urls import path

from . import views

app_name = "aggregator"
urlpatterns = [
    path("say-after/sync/", views.say_after_sync, name="say_after_sync"),
    path("say-after/async/", views.say_after_async, name="say_after_async"),
    path("upstream/sync/", views.upstream_sync, name="upstream_sync"),
    path("upstream/async/", views.upstream_async, name="upstream_async"),
    path("async/", views.fan_out_async, name="fan_out_async"),
    path("sync/", views.fan_out_sync, name="fan_out_sync"),
    path("requests/", views.fan_out_requests, name="fan_out_requests"),
    path("threads/", views.fan_out_threads, name="fan_out_threads"),
    path("stream/", views.fan_out_stream, name="fan_out_stream"),
    path(
        "pitfalls/blocking-sleep/",
        views.pitfall_blocking_sleep,
        name="pitfall_blocking_sleep",
    ),
    path("pitfalls/self-call/", views.pitfall_self_call, name="pitfall_self_call"),
]
