"""The site's one answer to a bad query string, shared by every app."""

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
