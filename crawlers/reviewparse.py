"""Parse one page of reviews (JSON, JSONP or HTML) as a `ReviewSource` config describes it.

Pure functions: bytes in, `ReviewPage` out. The spider does the paging and the stopping.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from parsel import Selector

from jingshao.core.times import read_time
from jingshao.crawlers.config import ReviewSource
from jingshao.crawlers.pageparse import clean_text, css_value, json_path, next_link, to_int, unwrap_jsonp


class ReviewParseError(ValueError):
    """The page is not what the source config says (bad JSON, list path missing ...)."""


@dataclass
class ParsedReview:
    text: str
    external_id: str | None = None
    rating: int | None = None
    posted_at: datetime | None = None
    variant: str | None = None
    helpful: int | None = None
    has_images: bool = False
    followup: str | None = None
    #: The time as the site wrote it when it could not be read (posted_at is then None).
    time_raw: str | None = None
    #: The time was relative to the crawl (3天前, 昨天, 11-30 without a year): not part of the fingerprint.
    time_relative: bool = False

    def fingerprint(self, product_id: int) -> str:
        """Stable key: the site's id when it has one, else the normalised text and the date (an absolute
        date only: `3天前` reads as another moment on every crawl and would make the review new each time)."""
        if self.external_id:
            key = f"{product_id}|id|{self.external_id}"
        else:
            when = self.posted_at.isoformat() if self.posted_at and not self.time_relative else ""
            key = f"{product_id}|text|{' '.join(self.text.split())}|{when}"
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class ReviewPage:
    reviews: list[ParsedReview] = field(default_factory=list)
    next_url: str | None = None
    skipped: int = 0  # items without text


def _has_images(value: Any) -> bool:
    """A list of pictures, a picture URL, or a count."""
    if isinstance(value, list | dict):
        return bool(value)
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return int(float(value)) > 0
    return bool(value and str(value).strip())


def _review(get, tz: ZoneInfo, now: datetime, src: ReviewSource) -> ParsedReview | None:
    f = src.fields
    text = clean_text(get(f.text))
    if not text:
        return None
    when = read_time(get(f.posted_at), tz=tz, now=now) if f.posted_at else None
    return ParsedReview(
        text=text,
        external_id=clean_text(get(f.id)) if f.id else None,
        rating=to_int(get(f.rating)) if f.rating else None,
        posted_at=when.at if when else None,
        variant=clean_text(get(f.variant)) if f.variant else None,
        helpful=to_int(get(f.helpful)) if f.helpful else None,
        has_images=_has_images(get(f.images)) if f.images else False,
        followup=clean_text(get(f.followup)) if f.followup else None,
        time_raw=when.raw if when else None,
        time_relative=when.relative if when else False,
    )


def parse_review_page(
    body: str, src: ReviewSource, *, tz: ZoneInfo, page_url: str = "", now: datetime | None = None
) -> ReviewPage:
    """``now`` is the crawl time (default: the current time); relative times (3天前) are read against it."""
    now = now or datetime.now(UTC)
    if src.kind in ("json", "jsonp"):
        return _parse_json(body, src, tz, now)
    return _parse_html(body, src, tz, now, page_url)


def _parse_json(body: str, src: ReviewSource, tz: ZoneInfo, now: datetime) -> ReviewPage:
    raw = body.strip()
    if src.kind == "jsonp" or not raw.startswith(("{", "[")):
        raw = unwrap_jsonp(raw)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReviewParseError(f"not valid JSON{'P' if src.kind == 'jsonp' else ''}: {exc.msg} at {exc.pos}") from None
    items = json_path(data, src.items)
    if items is None:
        raise ReviewParseError(f"no list at JSON path {src.items!r}")
    if not isinstance(items, list):
        raise ReviewParseError(f"JSON path {src.items!r} is a {type(items).__name__}, expected a list")
    page = ReviewPage()
    for item in items:
        r = _review(lambda p, item=item: json_path(item, p), tz, now, src) if isinstance(item, dict) else None
        if r is None:
            page.skipped += 1
        else:
            page.reviews.append(r)
    return page


def _parse_html(body: str, src: ReviewSource, tz: ZoneInfo, now: datetime, page_url: str) -> ReviewPage:
    doc = Selector(text=body)
    page = ReviewPage()
    for node in doc.css(src.items):
        r = _review(lambda q, node=node: css_value(node, q), tz, now, src)
        if r is None:
            page.skipped += 1
        else:
            page.reviews.append(r)
    if src.pagination == "next":
        page.next_url = next_link(doc, src.next, page_url)
    return page


def page_url(src: ReviewSource, index: int) -> str:
    """URL of the index-th page (0-based) for page/offset pagination."""
    if src.pagination == "offset":
        return src.url.format(offset=src.start + index * src.page_size, limit=src.page_size, page=index + 1)
    return src.url.format(page=src.start + index, limit=src.page_size, offset=index * src.page_size)
