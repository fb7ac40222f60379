"""The bounded fan-out as NDJSON: each result the moment it arrives, then a summary.

The reader sees the first answer after the fastest call, not the slowest.
The calls are bounded.py's; the stream ends early, with a line that says
so, when the server is told to stop (answers/streams.py).
"""

import json
import time

from django.http import StreamingHttpResponse

from answers.errors import invalid_query
from answers.streams import until_stop

from .addresses import upstream
from .bounded import as_completed
from .forms import FanOutForm


async def view(request):
    """/aggregator/stream/?n=10&delay=1"""
    started = time.monotonic()
    form = FanOutForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    target = upstream(request)

    async def lines():
        errors = 0
        async for result in as_completed(target, **form.cleaned_data):
            errors += not result.ok
            yield json.dumps(result.as_json()) + "\n"
        elapsed = round(time.monotonic() - started, 3)
        summary = {"way": "stream", **form.cleaned_data}
        summary.update(elapsed=elapsed, errors=errors)
        yield json.dumps({"summary": summary}) + "\n"

    stopped = json.dumps({"stopped": "the server is stopping: ask again"}) + "\n"
    response = StreamingHttpResponse(
        until_stop(lines(), stopped), content_type="application/x-ndjson"
    )
    response["X-Accel-Buffering"] = "no"  # ask proxies not to hold lines back
    return response
