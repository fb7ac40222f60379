"""The ORM in views: sync/async pairs over the same queries, and the ways to
call sync ORM code from async views."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import AsyncPaginator, InvalidPage, Paginator
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import aget_object_or_404, get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from answers.errors import invalid_query

from .forms import SearchForm
from .models import PAGE_SIZE, Post


def post_list_sync(request):
    """Published posts, ten a page, with Paginator: the classic sync list."""
    paginator = Paginator(Post.objects.published().with_author(), PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page", 1))
    except InvalidPage as exc:
        raise Http404(str(exc)) from exc
    context = {"posts": list(page), "page": page, "num_pages": paginator.num_pages}
    return render(request, "blog/post_list.html", {**context, "view": "sync"})


async def post_list_async(request):
    """The same list with AsyncPaginator and `async for`.

    The async ORM still runs each query in the request's thread (a hop per
    query, as Django 6.1's ORM is sync inside), which on the lean ASGI
    handler the request borrows at its first query and keeps to its end. With REDIS_URL set, the first
    page is cached for a few seconds with cache.aget/aset (docs/live-likes.md
    says what Django's async cache API costs)."""
    number = request.GET.get("page", "1")
    cached = number == "1" and settings.REDIS_URL
    if cached and (html := await cache.aget("blog:first-page")):
        return HttpResponse(html)
    paginator = AsyncPaginator(Post.objects.published().with_author(), PAGE_SIZE)
    try:
        page = await paginator.apage(number)
    except InvalidPage as exc:
        raise Http404(str(exc)) from exc
    # Evaluate here: a template can't run an async query.
    posts = [post async for post in page]
    context = {"posts": posts, "page": page, "num_pages": await paginator.anum_pages()}
    response = render(request, "blog/post_list.html", {**context, "view": "async"})
    if cached:
        await cache.aset(
            "blog:first-page", response.content, settings.BLOG_PAGE_CACHE_SECONDS
        )
    return response


def post_detail_sync(request, post_id):
    """One post and its author in one query, with get_object_or_404; a draft
    is found only for its author (Post.objects.visible_to)."""
    posts = Post.objects.visible_to(request.user).with_author()
    post = get_object_or_404(posts, pk=post_id)
    return render(request, "blog/post_detail.html", {"post": post, "view": "sync"})


async def post_detail_async(request, post_id):
    """The async twin: aget_object_or_404. with_author() matters more here:
    touching post.author later would be a sync query, which raises. The
    user comes from `await request.auser()`: request.user would raise here."""
    user = await request.auser()
    posts = Post.objects.visible_to(user).with_author()
    post = await aget_object_or_404(posts, pk=post_id)
    return render(request, "blog/post_detail.html", {"post": post, "view": "async"})


@sync_to_async
def get_post(user, post_id):
    return get_object_or_404(Post.objects.visible_to(user).with_author(), pk=post_id)


async def post_detail_decorated(request, post_id):
    """Sync ORM code in a function decorated with @sync_to_async: the way to reuse
    sync helpers, or code with no async API yet, from an async view."""
    post = await get_post(await request.auser(), post_id)
    return render(
        request, "blog/post_detail.html", {"post": post, "view": "@sync_to_async"}
    )


async def post_detail_inline(request, post_id):
    """The same, with sync_to_async wrapped around one call inline."""
    queryset = Post.objects.visible_to(await request.auser()).with_author()
    post = await sync_to_async(get_object_or_404)(queryset, pk=post_id)
    return render(
        request, "blog/post_detail.html", {"post": post, "view": "sync_to_async()"}
    )


async def post_search(request):
    """Search published posts for ?q=: PostgreSQL full-text search, or a plain
    match on SQLite. Same view, same query API; Post.objects.search() chooses."""
    form = SearchForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    q = form.cleaned_data["q"]
    matches = Post.objects.search(q).with_author()[:20]
    results = [
        {"id": post.pk, "title": post.title, "author": post.author.name}
        async for post in matches
    ]
    return JsonResponse(
        {
            "q": q,
            "backend": connection.vendor,
            "count": len(results),
            "results": results,
        }
    )


@require_POST
async def post_publish(request, post_id):
    """Publish a draft: two writes in one transaction, run as a sync function
    (Post.publish) through sync_to_async. Only its author or a superuser
    may: an anonymous visitor is sent to log in (and back to the post, where
    the button is), anyone else finds no such draft."""
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(reverse("blog:post_detail_async", args=[post_id]))
    posts = Post.objects.visible_to(user).with_author()
    post = await aget_object_or_404(posts, pk=post_id)
    if not post.may_be_published_by(user):
        raise PermissionDenied("Only its author publishes a post.")
    await sync_to_async(post.publish)()
    return redirect(post)
