from django.urls import path

from . import (
    bounded,
    compute,
    fail_fast,
    naive,
    pitfalls,
    quote,
    requests_loop,
    services,
    stream,
    sync_loop,
    threads,
    views,
)

app_name = "aggregator"
urlpatterns = [
    # ex: /aggregator/say-after/async/?delay=1&word=hello
    path("say-after/async/", views.say_after_async, name="say_after_async"),
    # ex: /aggregator/say-after/sync/?delay=1&word=hello
    path("say-after/sync/", views.say_after_sync, name="say_after_sync"),
    # Two different services, one view. ex: /aggregator/quote/async/?item=tea
    path("quote/async/", quote.quote_async, name="quote_async"),
    # ex: /aggregator/quote/sync/?item=tea
    path("quote/sync/", quote.quote_sync, name="quote_sync"),
    # One service n times, seven ways: each way's module holds its view.
    # ex: /aggregator/bounded/?n=10&delay=1 (and the same query for the six below)
    path("bounded/", bounded.view, name="bounded"),
    path("naive/", naive.view, name="naive"),
    path("fail-fast/", fail_fast.view, name="fail_fast"),
    path("stream/", stream.view, name="stream"),
    path("sync-loop/", sync_loop.view, name="sync_loop"),
    path("requests-loop/", requests_loop.view, name="requests_loop"),
    path("threads/", threads.view, name="threads"),
    # The services those views call, on this same server.
    # ex: /aggregator/upstream/async/?task_id=1&delay=1
    path("upstream/async/", services.upstream_async, name="upstream_async"),
    # ex: /aggregator/upstream/sync/?task_id=1&delay=1
    path("upstream/sync/", services.upstream_sync, name="upstream_sync"),
    # ex: /aggregator/upstream/price/?item=tea
    path("upstream/price/", services.price, name="price"),
    # ex: /aggregator/upstream/stock/?item=tea
    path("upstream/stock/", services.stock, name="stock"),
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
    # CPU work, three ways. ex: /aggregator/compute/loop/?ms=50
    path("compute/loop/", compute.compute_on_the_loop, name="compute_loop"),
    # ex: /aggregator/compute/thread/?ms=50
    path("compute/thread/", compute.compute_in_a_thread, name="compute_thread"),
    # ex: /aggregator/compute/sync/?ms=50
    path("compute/sync/", compute.compute_sync, name="compute_sync"),
    # ex: /aggregator/pitfalls/self-call/?n=10&delay=1
    path("pitfalls/self-call/", pitfalls.self_call, name="pitfall_self_call"),
]
