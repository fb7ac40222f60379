"""Two different services, one view: an item's price and its stock, at once.

The case most views have: not n calls to one service but one call each to
two or three, each with its own answer. The async view asks both on the
shared client (bounded.py's) and waits for the slower; its sync twin asks
one after the other and waits for the sum. Both stop at one deadline,
AGGREGATOR_DEADLINE, and answer each failure on its own: a missing price
still shows the stock.
"""

import asyncio
import time

import httpx2
from django.conf import settings
from django.http import JsonResponse

from answers.demos import slow_demo
from answers.errors import invalid_query

from . import clients
from .addresses import this_server
from .bounded import shared_client
from .forms import ItemForm


async def quote_async(request):
    """/aggregator/quote/async/?item=tea: the time is the slower call's."""
    started = time.monotonic()
    form = ItemForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    params = {"item": form.cleaned_data["item"]}
    price_at = this_server(request, "aggregator:price")
    stock_at = this_server(request, "aggregator:stock")
    deadline = asyncio.get_running_loop().time() + settings.AGGREGATOR_DEADLINE

    async def ask(client, target):
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.get(
                    target.url, params=params, headers=target.headers
                )
        except (TimeoutError, httpx2.TimeoutException):
            return {"error": "timeout: no answer by the deadline"}
        except httpx2.HTTPError as exc:
            return {"error": f"unreachable: {exc.__class__.__name__}"}
        return read(response)

    async with shared_client() as shared:
        price, stock = await asyncio.gather(
            ask(shared.client, price_at), ask(shared.client, stock_at)
        )
    return answer(params, price, stock, started)


@slow_demo
def quote_sync(request):
    """/aggregator/quote/sync/?item=tea: the time is the sum of the calls."""
    started = time.monotonic()
    form = ItemForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    params = {"item": form.cleaned_data["item"]}
    targets = [
        this_server(request, f"aggregator:{name}") for name in ("price", "stock")
    ]
    answers = []
    with httpx2.Client(verify=clients.tls()) as client:
        for target in targets:
            left = settings.AGGREGATOR_DEADLINE - (time.monotonic() - started)
            if left <= 0:
                answers.append({"error": "timeout: no answer by the deadline"})
                continue
            try:
                response = client.get(
                    target.url,
                    params=params,
                    headers=target.headers,
                    timeout=min(left, settings.AGGREGATOR_READ_TIMEOUT),
                )
            except httpx2.TimeoutException:
                answers.append({"error": "timeout: no answer by the deadline"})
            except httpx2.HTTPError as exc:
                answers.append({"error": f"unreachable: {exc.__class__.__name__}"})
            else:
                answers.append(read(response))
    return answer(params, *answers, started)


def read(response):
    """A service's JSON, or what went wrong with it."""
    try:
        body = response.json()
    except ValueError:
        return {"error": f"HTTP {response.status_code}, and not JSON"}
    if response.status_code != 200:
        return {"error": f"HTTP {response.status_code}", "said": body}
    return body


def answer(params, price, stock, started):
    """200 with what each service said, 502 when neither answered."""
    both_failed = "error" in price and "error" in stock
    return JsonResponse(
        {
            **params,
            "price": price,
            "stock": stock,
            "elapsed": round(time.monotonic() - started, 3),
        },
        status=502 if both_failed else 200,
    )
