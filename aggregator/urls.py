from django.urls import path

from . import pitfalls, views

app_name = "aggregator"
urlpatterns = [
    # ex: /aggregator/say-after/sync/?delay=1&word=hello
    path("say-after/sync/", views.say_after_sync, name="say_after_sync"),
    # ex: /aggregator/say-after/async/?delay=1&word=hello
    path("say-after/async/", views.say_after_async, name="say_after_async"),
    # ex: /aggregator/upstream/sync/?task_id=1&delay=1
    path("upstream/sync/", views.upstream_sync, name="upstream_sync"),
    # ex: /aggregator/upstream/async/?task_id=1&delay=1
    path("upstream/async/", views.upstream_async, name="upstream_async"),
    # ex: /aggregator/naive/?n=10&delay=1 (and the same query for the six below)
    path("naive/", views.fan_out_naive, name="fan_out_naive"),
    path("async/", views.fan_out_async, name="fan_out_async"),
    path("fail-fast/", views.fan_out_fail_fast, name="fan_out_fail_fast"),
    path("sync/", views.fan_out_sync, name="fan_out_sync"),
    path("requests/", views.fan_out_requests, name="fan_out_requests"),
    path("threads/", views.fan_out_threads, name="fan_out_threads"),
    path("stream/", views.fan_out_stream, name="fan_out_stream"),
    # ex: /aggregator/pitfalls/blocking-sleep/?delay=1&word=hi
    path(
        "pitfalls/blocking-sleep/",
        pitfalls.blocking_sleep,
        name="pitfall_blocking_sleep",
    ),
    # ex: /aggregator/pitfalls/stream-sync/?lines=4&every=0.5
    path("pitfalls/stream-sync/", pitfalls.stream_sync_lines, name="stream_sync"),
    # ex: /aggregator/pitfalls/stream-async/?lines=4&every=0.5
    path("pitfalls/stream-async/", pitfalls.stream_async_lines, name="stream_async"),
    # ex: /aggregator/pitfalls/self-call/?n=10&delay=1
    path("pitfalls/self-call/", pitfalls.self_call, name="pitfall_self_call"),
]
