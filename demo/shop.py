"""The demo shop's mutable state and its routes.

:class:`ShopState` is shared by every route provider, so later demo sites (a reviews API, mention
sources) can follow the same shop state by registering their own routes with a function of the same
shape as :func:`register_shop_routes`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter

from jingshao.demo import assets, catalog, pages
from jingshao.demo.crisis import CrisisState, DemoClock
from jingshao.demo.router import Request, Response, Router
from jingshao.demo.walls import Walls, login_page


class ShopState:
    """Thread-safe shop state number plus per-path failure counters of the flaky pages.

    Also holds the demo clock and the crisis switch that the mention sources follow.
    """

    def __init__(self, state: int = 0, *, asset_latency: float = 0.0, clock: DemoClock | None = None) -> None:
        self._state = catalog.check_state(state)
        self._lock = threading.Lock()
        self._flaky: Counter[str] = Counter()
        self.asset_latency = asset_latency
        self.clock = clock if clock is not None else DemoClock()
        self.crisis = CrisisState(self.clock)
        self.walls = Walls()  # issue 12: captcha / login / 429 / shell walls in front of product pages
        self.list_prices: dict = {}  # issue 12: item id -> the price the list page shows instead (Article 20)

    @property
    def state(self) -> int:
        return self._state

    def advance(self) -> int:
        """Move to the next state; after the last state comes state 0 again."""
        with self._lock:
            self._state = (self._state + 1) % catalog.STATE_COUNT
            return self._state

    def set_state(self, n: int) -> int:
        with self._lock:
            self._state = catalog.check_state(n)
            return self._state

    def flaky_attempt(self, path: str) -> int:
        """Count one request to a flaky page and return how many came before it."""
        with self._lock:
            before = self._flaky[path]
            self._flaky[path] += 1
            return before

    def reset_flaky(self) -> None:
        with self._lock:
            self._flaky.clear()


def _int_param(request: Request, name: str) -> int:
    return int(request.params[name])


def _bench_number(request: Request) -> int | None:
    n = _int_param(request, "n")
    return n if 0 <= n < catalog.BENCH_PAGE_COUNT else None


def _not_found(request: Request) -> Response:
    return Response.error(404, f"no such page: {request.path}")


def jd_price_rows(sku_ids: str, state: int) -> list[dict[str, str]]:
    """JD's price API answer for ``skuIds=J_1,J_2``; unknown SKUs get ``-1.00`` like the real one."""
    item = catalog.ITEMS_BY_ID[f"jd-{catalog.JD_SKU}"]
    st = item.state(state)
    known = {item.sku: (st.price, st.original_price or st.price)}
    known.update({r.sku: (r.price, r.price) for r in item.recommendations})
    rows = []
    for raw in filter(None, (s.strip() for s in sku_ids.split(","))):
        sku = raw.removeprefix("J_")
        price, original = known.get(sku, (None, None))
        rows.append(
            {
                "id": f"J_{sku}",
                "p": pages.money(price) if price is not None else "-1.00",
                "op": pages.money(original) if original is not None else "-1.00",
            }
        )
    return rows


_CALLBACK = re.compile(r"[A-Za-z_$][\w$.]{0,63}")


def register_shop_routes(router: Router, shop: ShopState) -> None:
    """The shop pages, the JD price API, static assets, robots.txt and the benchmark pages."""

    def product_page(request: Request) -> Response:
        wall = shop.walls.answer(request)
        if wall is not None:
            return wall
        path = request.path
        charset = "gbk" if catalog.ITEMS_BY_PATH.get(path, catalog.PRIVATE_ITEM).kind == "gbk" else "utf-8"
        return Response.html(pages.product_page_bytes(path, shop.state), charset=charset)

    for item in (*catalog.ITEMS, catalog.PRIVATE_ITEM):
        router.add("GET", re.escape(item.path), product_page)

    router.add("GET", r"/passport/login", login_page)

    @router.get("/")
    def index(request: Request) -> Response:
        return Response.html(pages.index_page())

    @router.get("/robots.txt")
    def robots(request: Request) -> Response:
        return Response.text(pages.ROBOTS_TXT)

    @router.get("/jd/api/price")
    def jd_price(request: Request) -> Response:
        rows = jd_price_rows(request.arg("skuIds", "") or "", shop.state)
        callback = request.arg("callback")
        if callback is None:
            return Response.json(rows)
        if not _CALLBACK.fullmatch(callback):
            return Response.error(400, "callback must be a JavaScript identifier")
        body = f"{callback}({json.dumps(rows, separators=(',', ':'))});"
        return Response.text(body, content_type="application/javascript; charset=utf-8")

    @router.get(r"/static/css/shop\.css")
    def css(request: Request) -> Response:
        return Response(
            200, assets.SHOP_CSS.encode("utf-8"), assets.CONTENT_TYPES[".css"], {"Cache-Control": "max-age=86400"}
        )

    @router.get(r"/static/img/(?P<k>\d{1,7})\.png")
    def image(request: Request) -> Response:
        _asset_wait(shop)
        return Response(
            200, assets.png(_int_param(request, "k")), assets.CONTENT_TYPES[".png"], {"Cache-Control": "max-age=86400"}
        )

    @router.get(r"/static/font/(?P<k>\d{1,7})\.woff2")
    def web_font(request: Request) -> Response:
        _asset_wait(shop)
        return Response(
            200,
            assets.font(_int_param(request, "k")),
            assets.CONTENT_TYPES[".woff2"],
            {"Cache-Control": "max-age=86400"},
        )

    register_bench_routes(router, shop)
    from jingshao.demo.listing import register_listing_routes

    register_listing_routes(router, shop)


def _asset_wait(shop: ShopState) -> None:
    if shop.asset_latency > 0:
        time.sleep(shop.asset_latency)


def register_bench_routes(router: Router, shop: ShopState) -> None:
    """Generated pages for benchmarks and fault tests (independent of the shop state)."""

    @router.get(r"/bench/product/(?P<n>\d{1,6})\.html")
    def bench_product(request: Request) -> Response:
        n = _bench_number(request)
        return _not_found(request) if n is None else Response.html(pages.bench_product_page(n))

    @router.get(r"/bench/render/(?P<n>\d{1,6})\.html")
    def bench_render(request: Request) -> Response:
        n = _bench_number(request)
        return _not_found(request) if n is None else Response.html(pages.bench_render_page(n))

    @router.get(r"/bench/api/price/(?P<n>\d{1,6})")
    def bench_price(request: Request) -> Response:
        n = _bench_number(request)
        return _not_found(request) if n is None else Response.json(pages.bench_price_json(n))

    @router.get(r"/slow/product/(?P<n>\d{1,6})\.html")
    def slow_product(request: Request) -> Response:
        n = _bench_number(request)
        if n is None:
            return _not_found(request)
        try:
            delay = float(request.arg("delay", "0.3") or "0.3")
        except ValueError:
            return Response.error(400, "delay must be a number of seconds")
        time.sleep(min(max(delay, 0.0), catalog.MAX_SLOW_DELAY))
        return Response.html(pages.bench_product_page(n))

    @router.get(r"/flaky/(?P<n>\d{1,6})\.html")
    def flaky_product(request: Request) -> Response:
        n = _bench_number(request)
        if n is None:
            return _not_found(request)
        if shop.flaky_attempt(request.path) < catalog.FLAKY_FAILURES:
            return Response.html(
                '<!DOCTYPE html><html><head><meta charset="utf-8"><title>503 服务繁忙</title>'
                "</head><body><h1>服务器繁忙，请稍后再试</h1></body></html>",
                status=503,
            )
        return Response.html(pages.bench_product_page(n))
