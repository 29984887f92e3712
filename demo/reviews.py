"""The demo shop's review sources, in three shapes, and the config a user writes for each.

- JD-like JSON paginated by page number (0-based, like JD):
  ``/jd/api/comments?productId=<sku>&page=<n>&pageSize=10``; the 优品 shop serves the same shape
  1-based as JSONP: ``/youpin/api/comments?productId=<sku>&page=<n>&pageSize=10&callback=fetchJSON_comment98``.
- Tmall-like HTML list in GBK with a 下一页 link: ``/tmall/reviews/<sku>.htm?page=<n>``.
- JSON paginated by offset: ``/songshu/api/rate?itemId=<sku>&offset=<o>&limit=20`` -> ``{"total", "items"}``.

Every source follows the shop state: state ``n`` adds ~20 newer reviews on top (see
:mod:`jingshao.demo.reviews_data`). :func:`review_source` is the config dict for a product
(``DemoProduct.reviews``); the reviews spider must find exactly :func:`demo_reviews` by following it.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from html import escape

from jingshao.demo import pages
from jingshao.demo.catalog import ITEMS_BY_ID, ShopItem
from jingshao.demo.reviews_data import PLANS, DemoReview, demo_reviews
from jingshao.demo.router import Handler, Request, Response, Router
from jingshao.demo.shop import ShopState

JD_PAGE_SIZE = 10
TMALL_PAGE_SIZE = 20
SONGSHU_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
JSONP_CALLBACK = "fetchJSON_comment98"
_CALLBACK = re.compile(r"[A-Za-z_$][\w$.]{0,63}")

#: shape -> first page number of that site (JD counts from 0, the 优品 shop from 1).
FIRST_PAGE = {"jd": 0, "youpin": 1}


def _item_by_sku(shape: str, sku: str | None) -> ShopItem | None:
    for plan in PLANS.values():
        item = ITEMS_BY_ID[plan.product_id]
        if plan.shape == shape and item.sku == sku:
            return item
    return None


def review_source(product_id: str, base_url: str) -> dict[str, object] | None:
    """The ``reviews`` config of a demo product (None for products without reviews)."""
    plan = PLANS.get(product_id)
    if plan is None:
        return None
    root = base_url.rstrip("/")
    sku = ITEMS_BY_ID[product_id].sku
    if plan.shape in ("jd", "youpin"):
        jsonp = plan.shape == "youpin"
        url = f"{root}/{plan.shape}/api/comments?productId={sku}&page={{page}}&pageSize={JD_PAGE_SIZE}"
        return {
            "kind": "jsonp" if jsonp else "json",
            "url": url + (f"&callback={JSONP_CALLBACK}" if jsonp else ""),
            "pagination": "page",
            "start": FIRST_PAGE[plan.shape],
            "page_size": JD_PAGE_SIZE,
            "items": "comments",
            "fields": {
                "id": "id",
                "text": "content",
                "rating": "score",
                "posted_at": "creationTime",
                "variant": "productColor",
                "helpful": "usefulVoteCount",
                "images": "images",
                "followup": "afterUserComment.content",
            },
        }
    if plan.shape == "tmall":
        return {
            "kind": "html",
            "url": f"{root}/tmall/reviews/{sku}.htm?page=1",
            "pagination": "next",
            "items": "div.rate-item",
            "fields": {
                "id": "::attr(data-id)",
                "text": ".rate-content::text",
                "rating": ".rate-star::attr(data-score)",
                "posted_at": ".rate-date::text",
                "variant": ".rate-sku span::text",
                "helpful": ".rate-useful em::text",
                "images": ".rate-pics img::attr(src)",
                "followup": ".append-content::text",
            },
            "next": "a.next::attr(href)",
        }
    return {
        "kind": "json",
        "url": f"{root}/songshu/api/rate?itemId={sku}&offset={{offset}}&limit={{limit}}",
        "pagination": "offset",
        "start": 0,
        "page_size": SONGSHU_PAGE_SIZE,
        "items": "items",
        "fields": {
            "id": "rateId",
            "text": "rateContent",
            "rating": "star",
            "posted_at": "rateDate",
            "variant": "sku",
            "helpful": "useful",
            "images": "pics",
            "followup": "appendComment.content",
        },
    }


# --- JD-like JSON / JSONP ------------------------------------------------------------------------


def _jd_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _nickname(review: DemoReview) -> str:
    return f"{review.id[-3]}***{review.id[-1]}"


def jd_comment(review: DemoReview, item: ShopItem) -> dict[str, object]:
    options = dict(review.options)
    values = list(options.values())
    followup = None
    if review.followup is not None and review.followup_at is not None:
        days = (review.followup_at - review.posted_at).days
        followup = {"content": review.followup, "created": _jd_time(review.followup_at), "afterDays": days}
    return {
        "id": int(review.id),
        "guid": f"{int(review.id):x}-demo",
        "content": review.text,
        "creationTime": _jd_time(review.posted_at),
        "score": review.rating,
        "nickname": _nickname(review),
        "referenceId": item.sku,
        "referenceName": item.name,
        "productColor": values[0] if values else "",
        "productSize": values[1] if len(values) > 1 else "",
        "usefulVoteCount": review.helpful,
        "replyCount": 0,
        "imageCount": len(review.images),
        "images": [{"imgUrl": src} for src in review.images],
        "afterUserComment": followup,
    }


def jd_comments_page(item: ShopItem, reviews: list[DemoReview], index: int, size: int) -> dict[str, object]:
    """One page (``index`` counted from 0) of the JD-like answer."""
    good = sum(r.rating >= 4 for r in reviews)
    summary = {
        "skuId": int(item.sku) if item.sku.isdigit() else item.sku,
        "commentCount": len(reviews),
        "goodCount": good,
        "generalCount": sum(r.rating == 3 for r in reviews),
        "poorCount": sum(r.rating <= 2 for r in reviews),
        "goodRateShow": round(100 * good / len(reviews)) if reviews else 100,
    }
    chunk = reviews[index * size : (index + 1) * size] if index >= 0 else []
    return {
        "productCommentSummary": summary,
        "comments": [jd_comment(r, item) for r in chunk],
        "maxPage": math.ceil(len(reviews) / size),
    }


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    return int(raw)


def _page_size(request: Request, name: str, default: int) -> int:
    size = _int_arg(request, name, default)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"{name} must be in 1..{MAX_PAGE_SIZE}")
    return size


def _json_or_jsonp(request: Request, data: object) -> Response:
    callback = request.arg("callback")
    if callback is None:
        return Response.json(data)
    if not _CALLBACK.fullmatch(callback):
        return Response.error(400, "callback must be a JavaScript identifier")
    body = f"{callback}({json.dumps(data, ensure_ascii=False, separators=(',', ':'))});"
    return Response.text(body, content_type="application/javascript; charset=utf-8")


# --- Tmall-like HTML (GBK) ------------------------------------------------------------------------


def _stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def tmall_time(t: datetime) -> str:
    return f"{t.year}年{t.month:02d}月{t.day:02d}日 {t.hour:02d}:{t.minute:02d}"


def tmall_rate_item(review: DemoReview) -> str:
    pics = ""
    if review.images:
        imgs = "".join(f'<img src="{escape(src)}" alt="买家秀">' for src in review.images)
        pics = f'<div class="rate-pics">{imgs}</div>'
    sku = "".join(f"<span>{escape(name)}:{escape(value)}</span>" for name, value in review.options)
    append = ""
    if review.followup is not None and review.followup_at is not None:
        days = (review.followup_at - review.posted_at).days
        append = (
            '<div class="rate-append"><span class="append-label">追加评论</span>'
            f'<span class="append-days">收货{days}天后追加</span>'
            f'<div class="append-content">{escape(review.followup)}</div>'
            f'<span class="append-date">{tmall_time(review.followup_at)}</span></div>'
        )
    reply = ""
    if review.rating <= 2 and int(review.id) % 3 == 0:
        reply = '<div class="rate-reply">[掌柜回复] 亲，给您带来不好的体验非常抱歉，请联系在线客服为您处理。</div>'
    return (
        f'<div class="rate-item" data-id="{review.id}">'
        f'<div class="rate-user"><span class="nick">{escape(_nickname(review))}</span>'
        f'<span class="rate-star" data-score="{review.rating}" title="{review.rating}分">'
        f"{_stars(review.rating)}</span></div>"
        f'<div class="rate-content">{escape(review.text)}</div>{pics}'
        f'<div class="rate-meta"><span class="rate-date">{tmall_time(review.posted_at)}</span>'
        f'<span class="rate-sku">{sku}</span><span class="rate-useful">有用<em>{review.helpful}</em></span></div>'
        f"{append}{reply}</div>"
    )


def _tmall_pager(path: str, page: int, last: int) -> str:
    links = []
    if page > 1:
        links.append(f'<a class="prev" href="{path}?page={page - 1}">上一页</a>')
    for n in range(max(1, page - 2), min(last, page + 2) + 1):
        link = f'<a class="page" href="{path}?page={n}">{n}</a>'
        links.append(f'<span class="current">{n}</span>' if n == page else link)
    if page < last:
        links.append(f'<a class="next" href="{path}?page={page + 1}">下一页</a>')
    else:
        links.append('<span class="next-disabled">下一页</span>')
    return f'<div class="rate-page">{"".join(links)}</div>'


def tmall_reviews_page(item: ShopItem, reviews: list[DemoReview], page: int) -> bytes:
    """Page ``page`` (from 1) of the Tmall-like review list, GBK encoded (emoji as character references)."""
    path = f"/tmall/reviews/{item.sku}.htm"
    last = max(1, math.ceil(len(reviews) / TMALL_PAGE_SIZE))
    chunk = reviews[(page - 1) * TMALL_PAGE_SIZE : page * TMALL_PAGE_SIZE] if page >= 1 else []
    good = sum(r.rating >= 4 for r in reviews)
    body = (
        f'<div class="rate-header"><h1>{escape(item.name)}</h1>'
        f'<div class="rate-summary">累计评价 <em>{len(reviews)}</em> · 好评率 '
        f"<em>{round(100 * good / len(reviews)) if reviews else 100}%</em></div>"
        '<div class="rate-filter"><label><input type="checkbox"> 有图</label>'
        '<label><input type="checkbox"> 追评</label>'
        '<a class="sort" href="#">按时间排序</a></div></div>'
        f'<div class="rate-grid">{"".join(tmall_rate_item(r) for r in chunk)}</div>' + _tmall_pager(path, page, last)
    )
    head = '<meta http-equiv="Content-Type" content="text/html; charset=gbk">\n'
    html = pages.layout(f"{item.name}-累计评价-tmall.com天猫", body, pages.SITES["gbk"], charset="gbk", head=head)
    return html.encode("gbk", errors="xmlcharrefreplace")


# --- offset JSON ----------------------------------------------------------------------------------


def _epoch_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def songshu_rate(review: DemoReview) -> dict[str, object]:
    append = None
    if review.followup is not None and review.followup_at is not None:
        append = {"content": review.followup, "date": _epoch_ms(review.followup_at)}
    return {
        "rateId": review.id,
        "rateContent": review.text,
        "star": review.rating,
        "rateDate": _epoch_ms(review.posted_at),
        "sku": " ".join(f"{name}:{value}" for name, value in review.options),
        "useful": review.helpful,
        "pics": list(review.images),
        "appendComment": append,
        "userNick": _nickname(review),
    }


def songshu_rate_page(reviews: list[DemoReview], offset: int, limit: int) -> dict[str, object]:
    return {
        "total": len(reviews),
        "offset": offset,
        "items": [songshu_rate(r) for r in reviews[offset : offset + limit]],
    }


# --- routes ---------------------------------------------------------------------------------------


def register_review_routes(router: Router, shop: ShopState) -> None:
    """Review endpoints of every shape, following the shop state."""

    def comments(shape: str) -> Handler:
        def handler(request: Request) -> Response:
            item = _item_by_sku(shape, request.arg("productId"))
            if item is None:
                return Response.error(404, f"unknown productId {request.arg('productId')!r}")
            try:
                page = _int_arg(request, "page", FIRST_PAGE[shape])
                size = _page_size(request, "pageSize", JD_PAGE_SIZE)
            except ValueError as exc:
                return Response.error(400, str(exc))
            reviews = demo_reviews(item.id, shop.state)
            return _json_or_jsonp(request, jd_comments_page(item, reviews, page - FIRST_PAGE[shape], size))

        return handler

    router.add("GET", r"/jd/api/comments", comments("jd"))
    router.add("GET", r"/youpin/api/comments", comments("youpin"))

    @router.get(r"/tmall/reviews/(?P<sku>\d{1,20})\.htm")
    def tmall_reviews(request: Request) -> Response:
        item = _item_by_sku("tmall", request.params["sku"])
        if item is None:
            return Response.error(404, f"no reviews for item {request.params['sku']}")
        try:
            page = _int_arg(request, "page", 1)
        except ValueError:
            return Response.error(400, "page must be an integer")
        return Response.html(tmall_reviews_page(item, demo_reviews(item.id, shop.state), page), charset="gbk")

    @router.get(r"/songshu/api/rate")
    def songshu_rates(request: Request) -> Response:
        item = _item_by_sku("songshu", request.arg("itemId"))
        if item is None:
            return Response.error(404, f"unknown itemId {request.arg('itemId')!r}")
        try:
            offset = _int_arg(request, "offset", 0)
            limit = _page_size(request, "limit", SONGSHU_PAGE_SIZE)
        except ValueError as exc:
            return Response.error(400, str(exc))
        if offset < 0:
            return Response.error(400, "offset must be >= 0")
        return Response.json(songshu_rate_page(demo_reviews(item.id, shop.state), offset, limit))
