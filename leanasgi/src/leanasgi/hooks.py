"""Where a middleware hook runs: on the event loop, or (a hop) on the
request's thread. The twins in middleware.py and auth.py build on these."""

from asgiref.sync import sync_to_async

from .threads import ThreadsBusy, busy_response


async def hop(hook, request, *args):
    """`hook` on the request's thread; past the cap's wait, the 503 the view
    would get (Django would turn a middleware's ThreadsBusy into a 500)."""
    try:
        return await sync_to_async(hook, thread_sensitive=True)(request, *args)
    except ThreadsBusy as error:
        return busy_response(error)


class OnTheLoop:
    """Mixin for a ``MiddlewareMixin`` subclass: run its hooks without a hop
    unless ``needs_thread(request[, response])`` says the hook about to run
    might block."""

    def needs_thread(self, request, response=None):
        return False

    async def __acall__(self, request):
        # A hook that does not hop is called directly: no coroutine per hook.
        response = None
        if hasattr(self, "process_request"):
            if self.needs_thread(request):
                response = await hop(self.process_request, request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.needs_thread(request, response):
                response = await hop(self.process_response, request, response)
            else:
                response = self.process_response(request, response)
        return response
