"""Two different services, one view: an item's price and its stock, at once.

The case most views have: not n calls to one service but one call each to
two or three, each with its own answer. The async view asks both on the
shared client (bounded.py's, within its bound) and waits for the slower; its
sync twin asks one after the other and waits for the sum. Both stop at one
deadline, AGGREGATOR_DEADLINE, and answer each failure on its own: a missing
price still shows the stock. The services are this same server's
(services.py).
"""

import asyncio
import json
import time

import httpx2
from django.conf import settings
from django.http import JsonResponse

from answers.demos import slow_demo
from answers.errors import invalid_query

from . import clients, sync_calls
from .addresses import this_server
from .bounded import shared_client
from .forms import ItemForm

TIMED_OUT = {"error": "timeout: no answer by the deadline"}


async def quote_async(request):
    """/aggregator/quote/async/?item=tea: the time is the slower call's."""
    started = time.monotonic()
    form = ItemForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    params = {"item": form.cleaned_data["item"]}
    deadline = asyncio.get_running_loop().time() + settings.AGGREGATOR_DEADLINE

    async def ask(shared, url_name):
        target = this_server(request, url_name)
        try:
            async with asyncio.timeout_at(deadline), shared.slots:
                response = await shared.client.get(
                    target.url, params=params, headers=target.headers
                )
        except (TimeoutError, httpx2.TimeoutException):
            return TIMED_OUT
        except httpx2.HTTPError as exc:
            return {"error": f"unreachable: {exc.__class__.__name__}"}
        return said(response.status_code, response.content)

    async with shared_client() as shared:
        price, stock = await asyncio.gather(
            ask(shared, "aggregator:price"), ask(shared, "aggregator:stock")
        )
    return quote_answer(params, price, stock, started)


@slow_demo
def quote_sync(request):
    """/aggregator/quote/sync/?item=tea: the time is the sum of the calls."""
    started = time.monotonic()
    form = ItemForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    params = {"item": form.cleaned_data["item"]}
    answers = []
    with httpx2.Client(**clients.options()) as client:
        for url_name in ("aggregator:price", "aggregator:stock"):
            target = this_server(request, url_name)
            answers.append(ask_before_deadline(client, target, params, started))
    return quote_answer(params, *answers, started)


def ask_before_deadline(client, target, params, started):
    """One call, read as it arrives so that the deadline cuts off a slow sender."""
    left = sync_calls.remaining(started)
    if left <= 0:
        return TIMED_OUT
    read = min(left, settings.AGGREGATOR_READ_TIMEOUT)
    try:
        with client.stream(
            "GET",
            target.url,
            params=params,
            headers=target.headers,
            timeout=clients.timeout(read=read),
        ) as response:
            body = sync_calls.read_before_deadline(response.iter_bytes(), started)
    except httpx2.TimeoutException:
        return TIMED_OUT
    except httpx2.HTTPError as exc:
        return {"error": f"unreachable: {exc.__class__.__name__}"}
    if body is None:
        return TIMED_OUT
    return said(response.status_code, body)


def said(status, body):
    """A service's JSON, or what went wrong with it."""
    try:
        value = json.loads(body)
    except ValueError:
        return {"error": f"HTTP {status}, and not JSON"}
    if status != 200:
        return {"error": f"HTTP {status}", "said": value}
    return value


def quote_answer(params, price, stock, started):
    """200 with what each service said; when neither answered, 504 if both
    ran out of time and 502 otherwise, as the fan-outs answer."""
    status = 200
    if "error" in price and "error" in stock:
        status = 504 if price == stock == TIMED_OUT else 502
    return JsonResponse(
        {
            **params,
            "price": price,
            "stock": stock,
            "elapsed": round(time.monotonic() - started, 3),
        },
        status=status,
    )
