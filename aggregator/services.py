"""The slow services the other views call, served by this same site so that
every lesson runs on one machine with nothing else started.

- upstream: waits `delay` seconds and answers its task_id, once waiting the
  sync way and once the async way; every fan-out calls it n times.
- price and stock: two different services for one item, of different speeds
  and shapes, as a shop's price list and its warehouse would be; the quote
  views (quote.py) call both.
"""

import asyncio
import time

from django.http import JsonResponse

from answers.demos import slow_demo
from answers.errors import invalid_query

from .forms import ItemForm, UpstreamForm

PRICES = {"tea": "4.20", "coffee": "6.50"}  # no price for cocoa yet
STOCK = {"tea": 12, "coffee": 0, "cocoa": 3}
PRICE_DELAY = 0.3
STOCK_DELAY = 0.6


@slow_demo
def upstream_sync(request):
    """time.sleep, then the task_id: calling it from this same server is the
    2020 "Django 3.1 Async" post's self-call (see the pitfalls).

    /aggregator/upstream/sync/?task_id=1&delay=1
    """
    form = UpstreamForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    time.sleep(form.cleaned_data["delay"])
    return JsonResponse({**form.cleaned_data, "view": "sync"})


async def upstream_async(request):
    """asyncio.sleep, then the task_id: the fan-outs' default upstream, which
    holds no thread while it waits.

    /aggregator/upstream/async/?task_id=1&delay=1
    """
    form = UpstreamForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    await asyncio.sleep(form.cleaned_data["delay"])
    return JsonResponse({**form.cleaned_data, "view": "async"})


async def price(request):
    """An item's price after 0.3 s, or 404 for an item without one.

    /aggregator/upstream/price/?item=tea
    """
    form = ItemForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    await asyncio.sleep(PRICE_DELAY)
    item = form.cleaned_data["item"]
    if item not in PRICES:
        return JsonResponse({"error": f"no price for {item}"}, status=404)
    return JsonResponse({"item": item, "price": PRICES[item], "currency": "EUR"})


async def stock(request):
    """How many of an item are in the warehouse, after 0.6 s.

    /aggregator/upstream/stock/?item=tea
    """
    form = ItemForm(request.GET)
    if not form.is_valid():
        return invalid_query(form)
    await asyncio.sleep(STOCK_DELAY)
    item = form.cleaned_data["item"]
    return JsonResponse({"item": item, "in_stock": STOCK.get(item, 0)})
