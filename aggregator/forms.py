"""Query-string validation for the plain-Django views, with Django forms."""

from django import forms
from django.conf import settings
from django.http import JsonResponse


class SayAfterForm(forms.Form):
    delay = forms.IntegerField(
        min_value=0,
        max_value=settings.SAY_AFTER_MAX_DELAY,
        help_text=f"whole seconds, 0 to {settings.SAY_AFTER_MAX_DELAY}",
    )
    word = forms.CharField(
        max_length=settings.SAY_AFTER_MAX_WORD_LENGTH,
        help_text=f"1 to {settings.SAY_AFTER_MAX_WORD_LENGTH} characters",
    )


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
