from django import forms
from django.conf import settings


class SearchForm(forms.Form):
    # CharField strips spaces, so a blank q is as missing as an empty one.
    q = forms.CharField(
        max_length=settings.BLOG_MAX_QUERY_LENGTH,
        help_text=f"1 to {settings.BLOG_MAX_QUERY_LENGTH} characters",
    )


class PauseForm(forms.Form):
    seconds = forms.FloatField(
        min_value=0, max_value=1, help_text="seconds each query waits, 0 to 1"
    )


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(max_length=128, widget=forms.PasswordInput)
