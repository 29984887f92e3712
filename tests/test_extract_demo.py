"""Extraction on the bundled demo shop, served over HTTP, in every shop state."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from jingshao.crawlers.extract import extract_product
from jingshao.crawlers.extract.pipeline import PRICE_SELECTOR_EMPTY
from jingshao.demo.catalog import STATE_COUNT, demo_products, expected
from jingshao.demo.server import DemoServer


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer(port=0) as srv:
        yield srv


def _fetch(url: str) -> httpx.Response:
    resp = httpx.get(url, timeout=10)
    resp.raise_for_status()
    return resp


@pytest.mark.slow
@pytest.mark.parametrize("state", range(STATE_COUNT))
def test_every_plain_product_in_every_state(server: DemoServer, state: int) -> None:
    server.set_state(state)
    products = [p for p in demo_products(server.base_url) if not p.render]
    assert len(products) >= 5
    for p in products:
        resp = _fetch(p.url)
        r = extract_product(resp.content, p.url, selectors=p.selectors, encoding=resp.charset_encoding)
        want = expected(p.id, state)
        where = f"{p.id} state {state}"
        assert r.price == want.price, where
        assert r.original_price == want.original_price, where
        if want.price is not None:
            assert r.in_stock is want.in_stock, where
            assert r.currency == want.currency, where
        else:
            assert r.in_stock is False and r.error, where
        for snippet in want.promo_contains:
            assert snippet in (r.promo or ""), f"{where}: {snippet!r} not in {r.promo!r}"
        # promo copy is promotions only: no service guarantees, delivery lines or price labels
        for noise in ("服务承诺", "正品保障", "免基础运费", "限时达", "促销价", "到手价¥"):
            assert noise not in (r.promo or ""), f"{where}: {r.promo!r}"


def test_js_filled_price_needs_render(server: DemoServer) -> None:
    server.set_state(0)
    jd = next(p for p in demo_products(server.base_url) if p.render)
    html = _fetch(jd.url).text
    r = extract_product(html, jd.url, selectors=jd.selectors)
    # the price span is empty without JavaScript: no guessing ("补贴800元" is not a price)
    assert r.price is None
    assert r.error is not None and PRICE_SELECTOR_EMPTY in r.error and "render = true" in r.error
    assert r.promo is not None and "以旧换新至高补贴800元" in r.promo

    # what the browser renders: the span is filled by the page's script
    sku = jd.id.split("-", 1)[1]
    rendered = html.replace(f'<span class="price J-p-{sku}"></span>', f'<span class="price J-p-{sku}">5999.00</span>')
    rendered = rendered.replace(f'<del class="J-op-{sku}"></del>', f'<del class="J-op-{sku}">￥6499.00</del>')
    assert rendered != html
    r2 = extract_product(rendered, jd.url, selectors=jd.selectors)
    assert r2.price == Decimal("5999.00") == expected(jd.id, 0).price
    assert r2.original_price == Decimal("6499.00")
    assert r2.error is None
    # and with no selectors at all the heuristics find it too
    assert extract_product(rendered, jd.url).price == Decimal("5999.00")
