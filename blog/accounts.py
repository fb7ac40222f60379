"""A logged-in author's drafts, written async: auser(), alogin(), and
@login_required on an async view (Django 5.1+).

The pitfall beside them: `request.user` in async code loads the user with a
sync query the first time it is touched, and raises SynchronousOnlyOperation.
An author is the user whose username is the author's name.
"""

from django.contrib.auth import aauthenticate, alogin, alogout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SynchronousOnlyOperation
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .forms import LoginForm
from .models import Post

WRONG_LOGIN = "That username and password do not match an account."


async def login(request):
    """The login form; a wrong login answers 400 without saying which field."""
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = await aauthenticate(request, **form.cleaned_data)
        if user is not None:
            await alogin(request, user)
            return redirect(next_page(request))
    status = 400 if request.method == "POST" else 200
    error = WRONG_LOGIN if request.method == "POST" else ""
    context = {"form": form, "error": error, "next": next_page(request)}
    return render(request, "blog/login.html", context, status=status)


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
