"""The blog's API operations, all async: the `aget` example of
django-ninja's guide, and more."""

import asyncio
import logging
from datetime import datetime
from typing import Annotated

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.paginator import AsyncPaginator, InvalidPage
from django.db.models import F
from django.tasks.exceptions import TaskResultDoesNotExist
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, SessionAuth
from pydantic import ValidationError

from . import live, tasks
from .models import MAX_POST_ID, PAGE_SIZE, Post

logger = logging.getLogger(__name__)
router = Router(tags=["blog"])

PostId = Annotated[int, Path(ge=1, le=MAX_POST_ID)]


class PostOut(Schema):
    id: int
    title: str
    slug: str
    body: str
    published: datetime | None
    author: str = Field(alias="author.name")
    likes: int


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000, description="Page number, from 1.")


class PostPage(Schema):
    count: int
    page: int
    pages: int
    items: list[PostOut]


class Likes(Schema):
    likes: int


class Raised(Schema):
    field: str
    raised: str


@router.get("/pitfalls/lazy-author/{post_id}", response=Raised)
async def lazy_author(request, post_id: PostId):
    """PITFALL: a post fetched without its author, for a schema that reads
    author.name. Serializing it in async code runs a hidden sync query, which
    raises; this answers with what was raised. get_post is the fix."""
    try:
        post = await Post.objects.visible_to(await request.auser()).aget(pk=post_id)
    except Post.DoesNotExist as exc:
        raise HttpError(404, f"No post with id {post_id}.") from exc
    try:
        PostOut.from_orm(post)  # what ninja does with a returned object
    except ValidationError as exc:
        error = exc.errors()[0]
        cause = error["msg"].removeprefix("Error extracting attribute: ")
        return {"field": ".".join(map(str, error["loc"])), "raised": cause}
    # Not reached on Django 6.1: tests/test_claims.py fails first if it is.
    return {"field": "author", "raised": "nothing"}


class AsyncSessionAuth(SessionAuth):
    """Django's session login, for async operations: the user is awaited with
    auser(). ninja's own django_auth works here too, but reads request.user
    in a thread (sync_to_async), a hop per request. As a cookie auth it checks
    CSRF on writes, as django_auth does."""

    async def authenticate(self, request, key):
        user = await request.auser()
        return user if user.is_authenticated else None


class FromThisSite(APIKeyCookie):
    """Anyone, logged in or not, from this site's own pages: Django's CSRF
    check (the csrftoken cookie's value sent back in an X-CSRFToken header,
    and no foreign Origin), which a page on another site cannot pass with a
    visitor's cookies. ninja runs the check in every cookie auth; this one
    asks for no login. request.auth is the user, anonymous or not."""

    param_name = settings.CSRF_COOKIE_NAME

    async def authenticate(self, request, key):
        return await request.auser()


@router.get("/drafts", response=list[PostOut], auth=AsyncSessionAuth())
async def list_drafts(request):
    """The logged-in author's drafts; 401 JSON without a login."""
    posts = Post.objects.with_author().filter(
        published__isnull=True, author__name=request.auth.username
    )
    return [post async for post in posts]


@router.get("/", response=PostPage)
async def list_posts(request, query: Query[PageQuery]):
    """Published posts, ten a page, newest first."""
    paginator = AsyncPaginator(Post.objects.published().with_author(), PAGE_SIZE)
    try:
        page = await paginator.apage(query.page)
    except InvalidPage as exc:
        raise HttpError(404, f"No page {query.page}: {exc}") from exc
    return {
        "count": await paginator.acount(),
        "page": page.number,
        "pages": await paginator.anum_pages(),
        "items": [post async for post in page],
    }


@router.get("/{post_id}", response=PostOut)
async def get_post(request, post_id: PostId):
    """One post, fetched with `aget` (the guide's example, on the async ORM);
    a draft only for its author."""
    posts = Post.objects.visible_to(await request.auser()).with_author()
    try:
        return await posts.aget(pk=post_id)
    except Post.DoesNotExist as exc:
        raise HttpError(404, f"No post with id {post_id}.") from exc


@router.post("/{post_id}/like", response=Likes, auth=FromThisSite())
async def like_post(request, post_id: PostId):
    """Add a like with one UPDATE ... SET likes = likes + 1: the database does the
    arithmetic, so concurrent likes are never lost (a read-modify-write would).
    Anyone may like a post they can read, from this site's pages (CSRF)."""
    posts = Post.objects.visible_to(request.auth).filter(pk=post_id)
    if not await posts.aupdate(likes=F("likes") + 1):
        raise HttpError(404, f"No post with id {post_id}.")
    likes = await posts.values_list("likes", flat=True).aget()
    # Committed (autocommit) before anyone hears of it; if the broadcast fails,
    # the like stays counted and the pages catch up when they reconnect.
    await live.publish(post_id, likes)
    return {"likes": likes}


class Enqueued(Schema):
    task: str | None
    status: str


async def author_of(user, post_id):
    posts = Post.objects.visible_to(user).filter(pk=post_id)
    posts = posts.values_list("author_id", flat=True)
    if (author_id := await posts.afirst()) is None:
        raise HttpError(404, f"No post with id {post_id}.")
    return author_id


@router.post("/{post_id}/recount", response={202: Enqueued}, auth=AsyncSessionAuth())
async def recount(request, post_id: PostId):
    """Recount the author's published posts after the response: enqueued,
    the task is a database row before this answers, for the worker to run.
    For logged-in users, from this site's pages (CSRF)."""
    author_id = await author_of(request.auth, post_id)
    result = await sync_to_async(tasks.enqueue_recount)(author_id)
    if result is None:
        raise HttpError(429, f"{tasks.MAX_WAITING} tasks already wait: try later.")
    return Status(202, {"task": str(result.id), "status": result.status})


@router.get("/tasks/{task_id}", response=Enqueued)
async def task_status(request, task_id: Annotated[str, Path(max_length=64)]):
    """Where an enqueued task is: READY, RUNNING, SUCCESSFUL or FAILED."""
    try:
        result = await tasks.recount_author.aget_result(task_id)
    except TaskResultDoesNotExist as exc:
        raise HttpError(404, f"No task with id {task_id}.") from exc
    return {"task": str(result.id), "status": result.status}


_fired = set()  # what the pitfall's tasks would need to survive collection


def _forgotten(job):
    """The pitfall's failure, as one line: nobody awaits the task to hear it."""
    _fired.discard(job)
    if not job.cancelled() and (error := job.exception()) is not None:
        logger.warning(
            "fire-and-forget: the work was lost after the response: %s: %s",
            type(error).__name__,
            error,
        )


@router.post(
    "/pitfalls/fire-and-forget/{post_id}",
    response={202: Enqueued},
    auth=AsyncSessionAuth(),
)
async def fire_and_forget(request, post_id: PostId):
    """PITFALL: the same work in asyncio.create_task, after 2 s (work that
    takes a while). It runs in this process only: a deploy, a crash or a
    restart in those 2 s loses it, and no one knows (docs/orm.md)."""
    author_id = await author_of(request.auth, post_id)
    if len(_fired) >= tasks.MAX_WAITING:
        raise HttpError(429, f"{tasks.MAX_WAITING} tasks already wait: try later.")

    async def later():
        await asyncio.sleep(2)
        await tasks.recount_author.acall(author_id)

    job = asyncio.create_task(later())
    _fired.add(job)
    job.add_done_callback(_forgotten)
    return Status(202, {"task": None, "status": "in this process's memory"})
