"""A project's own middleware, written the usual way (measure.py's table)."""

from django.utils.deprecation import MiddlewareMixin


class Timing(MiddlewareMixin):
    def process_request(self, request):
        request.timing = True
