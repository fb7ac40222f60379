"""Two different services, one view (aggregator/quote.py): the async view
waits for the slower call, its sync twin for the sum, and each failure is
answered on its own. Against real uvicorn processes, with this same server
as both services (price: 0.3 s, stock: 0.6 s)."""

import time

import httpx2
import pytest
from django.test import SimpleTestCase
from django.urls import reverse

from aggregator.quote import TIMED_OUT
from aggregator.services import PRICE_DELAY, STOCK_DELAY
from harness.servers import free_port, serve

QUOTES = ["quote_async", "quote_sync"]


def get(url):
    started = time.monotonic()
    response = httpx2.get(url, timeout=30)
    return response, time.monotonic() - started


@pytest.fixture(scope="module")
def uvicorn():
    with serve("uvicorn") as url:
        get(f"{url}{reverse('aggregator:quote_async')}?item=tea")  # warm up
        yield url


@pytest.mark.slow
def test_the_async_quote_takes_the_slower_call(uvicorn):
    """Both answers, after about the stock's 0.6 s: not the 0.9 s sum."""
    response, elapsed = get(f"{uvicorn}{reverse('aggregator:quote_async')}?item=tea")
    assert response.status_code == 200
    body = response.json()
    assert body["price"] == {"item": "tea", "price": "4.20", "currency": "EUR"}
    assert body["stock"] == {"item": "tea", "in_stock": 12}
    assert STOCK_DELAY <= body["elapsed"] <= elapsed < PRICE_DELAY + STOCK_DELAY


@pytest.mark.slow
def test_the_sync_quote_takes_the_sum(uvicorn):
    """The same answers from the sync twin, one call after the other."""
    response, elapsed = get(f"{uvicorn}{reverse('aggregator:quote_sync')}?item=tea")
    assert response.status_code == 200
    body = response.json()
    assert (body["price"]["price"], body["stock"]["in_stock"]) == ("4.20", 12)
    assert PRICE_DELAY + STOCK_DELAY <= body["elapsed"] <= elapsed < 1.3


@pytest.mark.slow
@pytest.mark.parametrize("name", QUOTES)
def test_a_missing_price_still_shows_the_stock(uvicorn, name):
    """Cocoa has no price: the price service's 404 is the price's answer,
    and the stock is there beside it."""
    response, _ = get(f"{uvicorn}{reverse(f'aggregator:{name}')}?item=cocoa")
    assert response.status_code == 200
    body = response.json()
    assert body["price"] == {
        "error": "HTTP 404",
        "said": {"error": "no price for cocoa"},
    }
    assert body["stock"] == {"item": "cocoa", "in_stock": 3}


@pytest.mark.slow
@pytest.mark.parametrize("name", QUOTES)
def test_a_call_past_the_deadline_is_answered_on_its_own(name):
    """With the deadline at 0.45 s the stock (0.6 s) is a timeout, the price
    is there, and the answer comes at the deadline, not after the stock."""
    with serve("uvicorn", env={"AGGREGATOR_DEADLINE": "0.45"}) as url:
        get(f"{url}{reverse(f'aggregator:{name}')}?item=tea")  # warm up
        response, elapsed = get(f"{url}{reverse(f'aggregator:{name}')}?item=tea")
    assert response.status_code == 200
    body = response.json()
    assert body["price"]["price"] == "4.20"
    assert body["stock"] == {"error": "timeout: no answer by the deadline"}
    assert 0.45 <= body["elapsed"] <= elapsed < 0.58


class QuoteTests(SimpleTestCase):
    def test_neither_service_answering_is_a_502(self):
        """With nothing listening where the services should be, both
        answers are errors, quickly, and the status is 502."""
        port = str(free_port())
        for name in QUOTES:
            with self.subTest(name):
                started = time.monotonic()
                response = self.client.get(
                    reverse(f"aggregator:{name}") + "?item=tea", SERVER_PORT=port
                )
                self.assertLess(time.monotonic() - started, 1)
                self.assertEqual(response.status_code, 502)
                body = response.json()
                self.assertEqual(
                    body["price"], {"error": "unreachable: ConnectError"}, body
                )
                self.assertEqual(body["stock"], body["price"])

    def test_a_bad_item_is_a_400_naming_it(self):
        """An item that is not a slug is refused before any call, saying what
        is allowed."""
        for name in QUOTES:
            for query in ("", "?item=", "?item=tea%20cup", "?item=" + "t" * 41):
                with self.subTest(name=name, query=query):
                    response = self.client.get(reverse(f"aggregator:{name}") + query)
                    self.assertEqual(response.status_code, 400)
                    field = response.json()["fields"]["item"]
                    self.assertIn("up to 40", field["allowed"])


@pytest.mark.slow
def test_both_past_the_deadline_is_a_504():
    """With the deadline at 0.2 s neither service answers in time: each is a
    timeout, and the quote a 504 at the deadline, as a fan-out's would be."""
    with serve("uvicorn", env={"AGGREGATOR_DEADLINE": "0.2"}) as url:
        for name in QUOTES:
            get(f"{url}{reverse(f'aggregator:{name}')}?item=tea")  # warm up
            response, elapsed = get(f"{url}{reverse(f'aggregator:{name}')}?item=tea")
            assert response.status_code == 504, name
            body = response.json()
            assert body["price"] == body["stock"] == TIMED_OUT
            assert 0.2 <= body["elapsed"] <= elapsed < 0.35, name
