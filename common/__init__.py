"""Helpers shared by the apps; neither an app nor part of the project package,
so `aggregator` and `blog` can use them without importing `mysite`."""
