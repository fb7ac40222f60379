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
    and too many attempts a 429 with Retry-After."""
    form = LoginForm(request.POST or None)
    headers = {}
    error = WRONG_LOGIN if request.method == "POST" else ""
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        if wait := await throttle.retry_after(request, username):
            headers["Retry-After"] = str(wait)
            error = f"Too many attempts: try again in {wait} seconds."
        elif user := await check_password(request, **form.cleaned_data):
            await throttle.succeeded(username)
            await alogin(request, user)
            return redirect(next_page(request))
    status = 429 if headers else 400 if request.method == "POST" else 200
    context = {"form": form, "error": error, "next": next_page(request)}
    response = render(request, "blog/login.html", context, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


# One thread: password hashes are slow on purpose, and a burst of them
# takes one core at most, leaving the other to the rest of the site.
PASSWORD_CHECKS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password")


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
