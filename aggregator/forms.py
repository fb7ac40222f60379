"""Query-string validation for the plain-Django views, with Django forms."""

from django import forms
from django.conf import settings


class SayAfterForm(forms.Form):
    delay = forms.IntegerField(
        min_value=0,
        max_value=settings.SAY_AFTER_MAX_DELAY,
        help_text=f"whole seconds, 0 to {settings.SAY_AFTER_MAX_DELAY}",
    )
    # Kept as sent, spaces and all, as ninja's operation keeps it.
    word = forms.CharField(
        strip=False,
        max_length=settings.SAY_AFTER_MAX_WORD_LENGTH,
        help_text=f"1 to {settings.SAY_AFTER_MAX_WORD_LENGTH} characters",
    )


def seconds_field(**kwargs):
    return forms.FloatField(
        min_value=0,
        max_value=settings.AGGREGATOR_MAX_DELAY,
        help_text=f"seconds, 0 to {settings.AGGREGATOR_MAX_DELAY}",
        **kwargs,
    )


class UpstreamForm(forms.Form):
    task_id = forms.IntegerField(
        min_value=0, max_value=10_000, help_text="a whole number, 0 to 10000"
    )
    delay = seconds_field()


class ItemForm(forms.Form):
    item = forms.SlugField(
        max_length=40, help_text="an item's name: letters, digits, - or _, up to 40"
    )


class FanOutForm(forms.Form):
    n = forms.IntegerField(
        min_value=1,
        max_value=settings.AGGREGATOR_MAX_TASKS,
        required=False,
        help_text=f"number of calls, 1 to {settings.AGGREGATOR_MAX_TASKS}, default 10",
    )
    delay = seconds_field(required=False)

    def clean_n(self):
        return 10 if self.cleaned_data["n"] is None else self.cleaned_data["n"]

    def clean_delay(self):
        delay = self.cleaned_data["delay"]
        return 1.0 if delay is None else delay


class StreamForm(forms.Form):
    lines = forms.IntegerField(
        min_value=1, max_value=20, help_text="lines to send, 1 to 20"
    )
    every = forms.FloatField(
        min_value=0, max_value=1, help_text="seconds before each line, 0 to 1"
    )
