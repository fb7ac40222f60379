"""A logged-in author's drafts, written async: auser(), alogin(), and
@login_required on an async view (Django 5.1+).

The login is throttled (blog/throttle.py) and checks the password on a
thread of its own: Django's aauthenticate hashes it on the event loop's
shared default executor, where a storm of wrong passwords would queue ahead
of every other sync_to_async(thread_sensitive=False) call in the process.

The pitfall beside them: `request.user` in async code loads the user with a
sync query the first time it is touched, and raises SynchronousOnlyOperation.
An author is the user whose username is the author's name.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import alogin, alogout, authenticate
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SynchronousOnlyOperation
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import throttle
from .forms import LoginForm
from .models import Post

WRONG_LOGIN = "That username and password do not match an account."


async def login(request):
    """The login form; a wrong login answers 400 without saying which field,
    too many attempts a 429, too many logins at once a 503, with Retry-After."""
    form = LoginForm(request.POST or None)
    if request.method != "POST":
        return login_page(request, form)
    if not form.is_valid():
        return login_page(request, form, WRONG_LOGIN, 400)
    username = form.cleaned_data["username"]
    try:
        wait = await throttle.retry_after(request, username)
    except throttle.Unavailable:
        return login_page(
            request, form, "Logging in is unavailable: try again.", 503, 5
        )
    if wait:
        return login_page(
            request, form, f"Too many attempts: wait {wait} s.", 429, wait
        )
    if _checking >= settings.LOGIN_MAX_CHECKING:
        return login_page(request, form, "Too many logins at once: try again.", 503, 1)
    user = await counted_check(request, **form.cleaned_data)
    if user is None:
        return login_page(request, form, WRONG_LOGIN, 400)
    await throttle.succeeded(username)
    await alogin(request, user)
    return redirect(next_page(request))


def login_page(request, form, error="", status=200, retry_after=None):
    context = {"form": form, "error": error, "next": next_page(request)}
    response = render(request, "blog/login.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


# One thread: password hashes are slow on purpose, and a burst of them
# takes one core at most, leaving the other to the rest of the site. At
# most LOGIN_MAX_CHECKING logins wait for it (each holds its request's
# thread meanwhile); past them a 503 at once.
PASSWORD_CHECKS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password")
_checking = 0  # logins waiting for PASSWORD_CHECKS; one event loop, no lock


async def counted_check(request, username, password):
    global _checking
    _checking += 1
    try:
        return await check_password(request, username, password)
    finally:
        _checking -= 1


@sync_to_async(thread_sensitive=False, executor=PASSWORD_CHECKS)
def check_password(request, username, password):
    """The user with this username and password, or None (Django's sync
    authenticate: the same backends, the same timing for unknown users)."""
    try:
        return authenticate(request, username=username, password=password)
    finally:
        connection.close()  # this thread's: no request's clean-up runs here


def next_page(request):
    """Where to go after logging in: ?next= when it stays on this site."""
    target = request.POST.get("next") or request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else reverse("blog:drafts")


@require_POST
async def logout(request):
    await alogout(request)
    return redirect("blog:login")


@login_required
async def drafts(request):
    """The logged-in author's drafts, each with its Publish button."""
    user = await request.auser()
    posts = Post.objects.filter(published__isnull=True, author__name=user.username)
    context = {"posts": [post async for post in posts], "user": user}
    return render(request, "blog/drafts.html", context)


async def request_user(request):
    """PITFALL: request.user in async code. Answers what touching it raised;
    whoami below is the fix."""
    try:
        return JsonResponse({"username": request.user.username})
    except SynchronousOnlyOperation as exc:
        return JsonResponse({"raised": f"SynchronousOnlyOperation: {exc}"})


async def whoami(request):
    """The fix: await request.auser(), which loads the user on a thread."""
    user = await request.auser()
    return JsonResponse({"username": user.username})
