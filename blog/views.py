"""The ORM in views: sync/async pairs over the same queries, and the ways to
call sync ORM code from async views."""

from asgiref.sync import sync_to_async
from django.core.paginator import AsyncPaginator, InvalidPage, Paginator
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import aget_object_or_404, get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from common.forms import invalid_query

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
    query, as Django 6.1's ORM is sync inside); between queries the request
    holds no thread on the lean ASGI handler."""
    paginator = AsyncPaginator(Post.objects.published().with_author(), PAGE_SIZE)
    try:
        page = await paginator.apage(request.GET.get("page", 1))
    except InvalidPage as exc:
        raise Http404(str(exc)) from exc
    # Evaluate here: a template can't run an async query.
    posts = [post async for post in page]
    context = {"posts": posts, "page": page, "num_pages": await paginator.anum_pages()}
    return render(request, "blog/post_list.html", {**context, "view": "async"})


def post_detail_sync(request, post_id):
    """One post and its author in one query, with get_object_or_404."""
    post = get_object_or_404(Post.objects.with_author(), pk=post_id)
    return render(request, "blog/post_detail.html", {"post": post, "view": "sync"})


async def post_detail_async(request, post_id):
    """The async twin: aget_object_or_404. with_author() matters more here:
    touching post.author later would be a sync query, which raises."""
    post = await aget_object_or_404(Post.objects.with_author(), pk=post_id)
    return render(request, "blog/post_detail.html", {"post": post, "view": "async"})


@sync_to_async
def get_post(post_id):
    return get_object_or_404(Post.objects.with_author(), pk=post_id)


async def post_detail_decorated(request, post_id):
    """Sync ORM code in a function decorated with @sync_to_async: the way to reuse
    sync helpers, or code with no async API yet, from an async view."""
    post = await get_post(post_id)
    return render(
        request, "blog/post_detail.html", {"post": post, "view": "@sync_to_async"}
    )


async def post_detail_inline(request, post_id):
    """The same, with sync_to_async wrapped around one call inline."""
    queryset = Post.objects.with_author()
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
    (Post.publish) through sync_to_async."""
    post = await aget_object_or_404(Post, pk=post_id)
    await sync_to_async(post.publish)()
    return redirect(post)
