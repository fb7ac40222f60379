from django.urls import path, register_converter

from . import views
from .converters import PostIdConverter

register_converter(PostIdConverter, "post_id")

app_name = "blog"
urlpatterns = [
    path("", views.post_list_async, name="post_list_async"),
    path("sync/", views.post_list_sync, name="post_list_sync"),
    path("search/", views.post_search, name="post_search"),
    path("<post_id:post_id>/", views.post_detail_async, name="post_detail_async"),
    path("<post_id:post_id>/sync/", views.post_detail_sync, name="post_detail_sync"),
    path(
        "<post_id:post_id>/decorated/",
        views.post_detail_decorated,
        name="post_detail_decorated",
    ),
    path(
        "<post_id:post_id>/inline/", views.post_detail_inline, name="post_detail_inline"
    ),
    path("<post_id:post_id>/publish/", views.post_publish, name="post_publish"),
]
