"""A search / list page of the demo shop (issue 12, Article 20 audits): every product with the price the shop
shows in lists. ``srv.shop.list_prices[item_id] = Decimal("...")`` (or ``POST /_demo/list-price?id=..&price=..``)
makes the list show another price than the detail page; ``price=off`` removes the override."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from html import escape

from jingshao.demo import catalog, pages
from jingshao.demo.router import Request, Response, Router

LIST_PATH = "/search"


def list_price_selector(item_id: str) -> str:
    """The CSS selector of ``item_id``'s price on the list page."""
    return f'li[data-id="{item_id}"] .price::text'


def register_listing_routes(router: Router, shop) -> None:
    @router.get(LIST_PATH)
    def search(request: Request) -> Response:
        rows = []
        for item in catalog.ITEMS:
            st = item.state(shop.state)
            price = shop.list_prices.get(item.id, st.price)
            if price is None:
                continue
            rows.append(
                f'<li class="item" data-id="{escape(item.id)}"><a href="{escape(item.path)}">{escape(item.name)}</a>'
                f'<span class="price">¥{pages.money(price)}</span></li>'
            )
        body = f'<h1>搜索结果</h1><ul class="results">{"".join(rows)}</ul>'
        return Response.html(
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>搜索</title></head><body>{body}</body></html>'
        )

    @router.post(r"/_demo/list-price")
    def set_list_price(request: Request) -> Response:
        item_id, raw = request.arg("id") or "", request.arg("price") or ""
        if item_id not in catalog.ITEMS_BY_ID:
            return Response.error(400, f"unknown item id {item_id!r}")
        if raw == "off":
            shop.list_prices.pop(item_id, None)
        else:
            try:
                shop.list_prices[item_id] = Decimal(raw)
            except InvalidOperation:
                return Response.error(400, f"price must be a number or off, got {raw!r}")
        return Response.json({k: str(v) for k, v in shop.list_prices.items()})
