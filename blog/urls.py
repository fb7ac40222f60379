from django.urls import path, register_converter

from . import views
from .converters import PostIdConverter

register_converter(PostIdConverter, "post_id")

app_name = "blog"
urlpatterns = [
    # ex: /blog/ and /blog/?page=2
    path("", views.post_list_async, name="post_list_async"),
    # ex: /blog/sync/?page=2
    path("sync/", views.post_list_sync, name="post_list_sync"),
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
    # ex: POST /blog/5/publish/
    path("<post_id:post_id>/publish/", views.post_publish, name="post_publish"),
]
