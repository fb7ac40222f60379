"""django.contrib.auth's middleware, lean: named as leanasgi.middleware's
(``leanasgi.middleware.AuthenticationMiddleware``), kept here because importing
it needs the auth and contenttypes apps installed."""

from django.contrib.auth import middleware as auth

from .hooks import OnTheLoop, hop


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    """Attaches a lazy ``request.user`` and ``request.auser``; loads nothing."""


class LoginRequiredMiddleware(OnTheLoop, auth.LoginRequiredMiddleware):
    """A view marked ``login_not_required`` is let through on the loop; any
    other needs the user, which reads the session and queries: a hop."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:  # called as it is, as CsrfViewMiddleware's is
            self.process_view = self.aprocess_view

    async def aprocess_view(self, request, view_func, view_args, view_kwargs):
        check = super().process_view
        if not getattr(view_func, "login_required", True):
            return check(request, view_func, view_args, view_kwargs)
        return await hop(check, request, view_func, view_args, view_kwargs)
