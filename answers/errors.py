"""The site's JSON answers to a request it will not serve as asked, shared by
every app: a bad query string (400), and "too much at once, try again" (503)."""

from django.http import JsonResponse


def invalid_query(form):
    """A 400 answer naming each bad parameter, what was wrong and what is allowed."""
    return JsonResponse(
        {
            "error": "invalid query parameters",
            "fields": {
                name: {
                    "errors": [str(message) for message in errors],
                    "allowed": form.fields[name].help_text,
                }
                for name, errors in form.errors.items()
            },
        },
        status=400,
    )


def try_again(error, seconds=1, **more):
    """A 503 JSON answer saying what is unavailable, with Retry-After."""
    return JsonResponse(
        {"error": error, **more}, status=503, headers={"Retry-After": str(seconds)}
    )
