"""A project's own middleware, written the usual way (measure.py's table)."""

from django.utils.deprecation import MiddlewareMixin


class Timing(MiddlewareMixin):
    def process_request(self, request):
        request.timing = True


class SyncOnly:
    """A sync-only middleware, as older libraries write them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
