from django.contrib import admin

from .models import Author, Post


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "published_count"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "published", "likes"]
    list_select_related = ["author"]
    prepopulated_fields = {"slug": ["title"]}
    search_fields = ["title", "body"]
