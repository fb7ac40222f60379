from django.urls import path, register_converter

from . import accounts, live_views, pitfalls, views
from .converters import PostIdConverter

register_converter(PostIdConverter, "post_id")

app_name = "blog"
urlpatterns = [
    # ex: /blog/ and /blog/?page=2
    path("", views.post_list_async, name="post_list_async"),
    # ex: /blog/sync/?page=2
    path("sync/", views.post_list_sync, name="post_list_sync"),
    # ex: /blog/pitfalls/gathered-queries/?seconds=0.5
    path(
        "pitfalls/gathered-queries/",
        pitfalls.gathered_queries,
        name="pitfall_gathered_queries",
    ),
    # ex: /blog/pitfalls/one-query/?seconds=0.5
    path("pitfalls/one-query/", pitfalls.one_query, name="pitfall_one_query"),
    # ex: /blog/pitfalls/queries-apart/?seconds=0.5
    path(
        "pitfalls/queries-apart/",
        pitfalls.queries_apart,
        name="pitfall_queries_apart",
    ),
    # ex: /blog/login/?next=/blog/drafts/
    path("login/", accounts.login, name="login"),
    # ex: POST /blog/logout/
    path("logout/", accounts.logout, name="logout"),
    # ex: /blog/drafts/ (the logged-in author's)
    path("drafts/", accounts.drafts, name="drafts"),
    # ex: /blog/pitfalls/request-user/ and /blog/whoami/
    path("pitfalls/request-user/", accounts.request_user, name="pitfall_request_user"),
    path("whoami/", accounts.whoami, name="whoami"),
    # ex: /blog/search/?q=asyncio
    path("search/", views.post_search, name="post_search"),
    # ex: /blog/1/
    path("<post_id:post_id>/", views.post_detail_async, name="post_detail_async"),
    # ex: /blog/1/sync/
    path("<post_id:post_id>/sync/", views.post_detail_sync, name="post_detail_sync"),
    # ex: /blog/1/decorated/
    path(
        "<post_id:post_id>/decorated/",
        views.post_detail_decorated,
        name="post_detail_decorated",
    ),
    # ex: /blog/1/inline/
    path(
        "<post_id:post_id>/inline/", views.post_detail_inline, name="post_detail_inline"
    ),
    # ex: /blog/1/events/ (text/event-stream: the live like count)
    path("<post_id:post_id>/events/", live_views.post_events, name="post_events"),
    # ex: /blog/live/ (the live broadcast's backend and watchers in this process)
    path("live/", live_views.live_status, name="live_status"),
    # ex: POST /blog/5/publish/
    path("<post_id:post_id>/publish/", views.post_publish, name="post_publish"),
]
