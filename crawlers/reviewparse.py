"""Parse one page of reviews (JSON, JSONP or HTML) as a `ReviewSource` config describes it.

Pure functions: bytes in, `ReviewPage` out. The spider does the paging and the stopping.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from parsel import Selector

from jingshao.config import ReviewSource

_JSONP = re.compile(r"^\s*[\w$.]+\s*\(\s*(.*?)\s*\)\s*;?\s*$", re.S)
_INT = re.compile(r"-?\d+")


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

    def fingerprint(self, product_id: int) -> str:
        """Stable key: the site's id when it has one, else the normalised text and the date."""
        if self.external_id:
            key = f"{product_id}|id|{self.external_id}"
        else:
            when = self.posted_at.isoformat() if self.posted_at else ""
            key = f"{product_id}|text|{' '.join(self.text.split())}|{when}"
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class ReviewPage:
    reviews: list[ParsedReview] = field(default_factory=list)
    next_url: str | None = None
    skipped: int = 0  # items without text


def _path(data: Any, path: str) -> Any:
    cur = data
    for part in path.split("."):
        if cur is None:
            return None
        if isinstance(cur, list):
            if not part.lstrip("-").isdigit() or not -len(cur) <= int(part) < len(cur):
                return None
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
    return cur


def _to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    m = _INT.search(str(value))
    return int(m.group()) if m else None


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
                 "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y.%m.%d")


def parse_time(value: Any, tz: ZoneInfo) -> datetime | None:
    """Review times as sites write them: ISO, 'YYYY-mm-dd HH:MM:SS', 2026年11月20日, epoch s/ms.
    Naive values are in the shop's time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        n = float(value)
        if n > 1e11:
            n /= 1000
        return datetime.fromtimestamp(n, tz)
    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        dt = None
        for fmt in _DATE_FORMATS:
            try:
                dt = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = " ".join(str(v) for v in value if v)
    s = " ".join(str(value).split())
    return s or None


def _has_images(value: Any) -> bool:
    """A list of pictures, a picture URL, or a count."""
    if isinstance(value, list | dict):
        return bool(value)
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return int(float(value)) > 0
    return bool(value and str(value).strip())


def _review(get, tz: ZoneInfo, src: ReviewSource) -> ParsedReview | None:  # noqa: ANN001
    f = src.fields
    text = _text(get(f.text))
    if not text:
        return None
    return ParsedReview(
        text=text,
        external_id=_text(get(f.id)) if f.id else None,
        rating=_to_int(get(f.rating)) if f.rating else None,
        posted_at=parse_time(get(f.posted_at), tz) if f.posted_at else None,
        variant=_text(get(f.variant)) if f.variant else None,
        helpful=_to_int(get(f.helpful)) if f.helpful else None,
        has_images=_has_images(get(f.images)) if f.images else False,
        followup=_text(get(f.followup)) if f.followup else None,
    )


def parse_review_page(body: str, src: ReviewSource, *, tz: ZoneInfo, page_url: str = "") -> ReviewPage:
    if src.kind in ("json", "jsonp"):
        return _parse_json(body, src, tz)
    return _parse_html(body, src, tz, page_url)


def _parse_json(body: str, src: ReviewSource, tz: ZoneInfo) -> ReviewPage:
    raw = body.strip()
    if src.kind == "jsonp" or not raw.startswith(("{", "[")):
        m = _JSONP.match(raw)
        if m:
            raw = m.group(1)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReviewParseError(f"not valid JSON{'P' if src.kind == 'jsonp' else ''}: {exc.msg} at {exc.pos}") from None
    items = _path(data, src.items)
    if items is None:
        raise ReviewParseError(f"no list at JSON path {src.items!r}")
    if not isinstance(items, list):
        raise ReviewParseError(f"JSON path {src.items!r} is a {type(items).__name__}, expected a list")
    page = ReviewPage()
    for item in items:
        r = _review(lambda p, item=item: _path(item, p), tz, src) if isinstance(item, dict) else None
        if r is None:
            page.skipped += 1
        else:
            page.reviews.append(r)
    return page


def _css(sel: Selector, query: str) -> str | list[str] | None:
    values = [v for v in sel.css(query).getall() if v and v.strip()]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _parse_html(body: str, src: ReviewSource, tz: ZoneInfo, page_url: str) -> ReviewPage:
    doc = Selector(text=body)
    page = ReviewPage()
    for node in doc.css(src.items):
        r = _review(lambda q, node=node: _css(node, q), tz, src)
        if r is None:
            page.skipped += 1
        else:
            page.reviews.append(r)
    if src.pagination == "next" and src.next:
        href = doc.css(src.next).get()
        if href and not href.strip().lower().startswith("javascript:"):
            from urllib.parse import urljoin

            page.next_url = urljoin(page_url, href.strip())
    return page


def page_url(src: ReviewSource, index: int) -> str:
    """URL of the index-th page (0-based) for page/offset pagination."""
    if src.pagination == "offset":
        return src.url.format(offset=src.start + index * src.page_size, limit=src.page_size, page=index + 1)
    return src.url.format(page=src.start + index, limit=src.page_size, offset=index * src.page_size)
