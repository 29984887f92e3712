"""Parse brand-mention sources (RSS/Atom, HTML lists, JSON endpoints) and match brands.

Pure functions. A source config names where each field is: CSS selectors with ::text/::attr
for HTML (relative to one item), dotted paths for JSON (relative to one item); feeds need none.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from parsel import Selector

from jingshao.core.textfold import fold
from jingshao.core.times import TimeReading, read_time
from jingshao.crawlers.pageparse import clean_text, css_value, json_path, next_link


class MentionParseError(ValueError):
    pass


class SourceLike(Protocol):
    # Read-only members, so a config whose kind is a Literal (MentionSourceConfig) fits.
    @property
    def kind(self) -> str: ...

    @property
    def item(self) -> str | None: ...

    @property
    def title(self) -> str | None: ...

    @property
    def link(self) -> str | None: ...

    @property
    def snippet(self) -> str | None: ...

    @property
    def time(self) -> str | None: ...

    @property
    def author(self) -> str | None: ...

    @property
    def pagination(self) -> str: ...

    @property
    def next(self) -> str | None: ...

    @property
    def cursor(self) -> str | None: ...


class BrandLike(Protocol):
    name: str
    keywords: list[str]
    aliases: list[str]
    exclude: list[str]


@dataclass
class RawMention:
    url: str
    title: str | None
    text: str
    posted_at: datetime | None  # None: no time given, or one that cannot be read (then time_raw says it)
    author: str | None
    time_raw: str | None = None


@dataclass
class MentionPage:
    items: list[RawMention] = field(default_factory=list)
    next_url: str | None = None
    next_cursor: str | None = None


def parse_mention_page(
    body: str, src: SourceLike, *, tz: ZoneInfo, page_url: str, now: datetime | None = None
) -> MentionPage:
    """``now`` is the crawl time (default: the current time); relative times (3分钟前) are read against it."""
    now = now or datetime.now(UTC)
    if src.kind == "rss":
        return _parse_feed(body, tz, now, page_url)
    if src.kind == "json":
        return _parse_json(body, src, tz, now, page_url)
    return _parse_html(body, src, tz, now, page_url)


def _feed_time(entry: Any, tz: ZoneInfo, now: datetime) -> TimeReading:
    """The entry's published (else updated) time, read by our parser from the feed's own text (so a
    naive time is in tz, and 2026年11月30日 or 3小时前 in a Chinese feed are read too); feedparser's
    parsed struct (UTC) is the fallback for the date layouts only it knows."""
    for key in ("published", "updated"):
        reading = read_time(entry.get(key), tz=tz, now=now)
        if reading.at is None and entry.get(f"{key}_parsed"):
            parsed = read_time(calendar.timegm(entry[f"{key}_parsed"]), tz=tz, now=now)
            reading = parsed if parsed.at else reading
        if reading.at is not None or reading.raw is not None:
            return reading
    return TimeReading(None)


def _parse_feed(body: str, tz: ZoneInfo, now: datetime, page_url: str) -> MentionPage:
    import feedparser

    feed = feedparser.parse(body)
    if feed.bozo and not feed.entries:
        raise MentionParseError(f"not a readable RSS/Atom feed: {feed.get('bozo_exception')}")
    page = MentionPage()
    for e in feed.entries:
        when = _feed_time(e, tz, now)
        summary = _strip_html(e.get("summary") or "")
        title = clean_text(e.get("title"))
        link = e.get("link") or e.get("id") or ""
        text = summary or title or ""
        if not text or not link:
            continue
        page.items.append(
            RawMention(urljoin(page_url, link), title, text, when.at, clean_text(e.get("author")), when.raw)
        )
    return page


def _strip_html(html: str) -> str:
    if "<" not in html:
        return " ".join(html.split())
    return " ".join(" ".join(Selector(text=f"<div>{html}</div>").css("div ::text").getall()).split())


def _parse_json(body: str, src: SourceLike, tz: ZoneInfo, now: datetime, page_url: str) -> MentionPage:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MentionParseError(f"not valid JSON: {exc.msg} at {exc.pos}") from None
    items = json_path(data, src.item or "")
    if not isinstance(items, list):
        raise MentionParseError(f"no list at JSON path {src.item!r}")
    page = MentionPage()
    for it in items:
        if isinstance(it, dict):
            m = _mention(lambda p, it=it: json_path(it, p), src, tz, now, page_url)
            if m:
                page.items.append(m)
    if src.pagination == "cursor" and src.cursor:
        cur = json_path(data, src.cursor)
        page.next_cursor = None if cur in (None, "", 0, "0") else str(cur)
    return page


def _parse_html(body: str, src: SourceLike, tz: ZoneInfo, now: datetime, page_url: str) -> MentionPage:
    doc = Selector(text=body)
    page = MentionPage()
    for node in doc.css(src.item or "body"):
        m = _mention(lambda q, node=node: css_value(node, q), src, tz, now, page_url)
        if m:
            page.items.append(m)
    if src.pagination == "next":
        page.next_url = next_link(doc, src.next, page_url)
    return page


def _mention(get, src: SourceLike, tz: ZoneInfo, now: datetime, page_url: str) -> RawMention | None:
    title = clean_text(get(src.title)) if src.title else None
    snippet = clean_text(get(src.snippet)) if src.snippet else None
    link = clean_text(get(src.link)) if src.link else None
    text = snippet or title
    if not text or not link:
        return None
    when = read_time(get(src.time), tz=tz, now=now) if src.time else TimeReading(None)
    return RawMention(
        urljoin(page_url, link), title, text, when.at, clean_text(get(src.author)) if src.author else None, when.raw
    )


# ---------------------------------------------------------------- brands and dedup keys


def match_brand(text: str, brand: BrandLike) -> bool:
    """The text names the brand (a keyword or alias) and none of its exclusion words
    (苹果 the brand vs the fruit: exclude 水果, 好吃, 斤 ...)."""
    folded = fold(text)
    names = [*(brand.keywords or [brand.name]), *brand.aliases]
    if not any(fold(n) in folded for n in names if n):
        return False
    return not any(fold(x) in folded for x in brand.exclude if x)


_TRACKING = re.compile(r"^(utm_|spm$|from$|share|scene$|_t$)")


def url_key(url: str) -> str:
    """Digest of the URL without fragment, tracking parameters or a trailing slash."""
    parts = urlsplit(url.strip())
    query = "&".join(sorted(q for q in parts.query.split("&") if q and not _TRACKING.match(q.split("=")[0])))
    norm = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/") or "/", query, ""))
    return hashlib.sha256(norm.encode()).hexdigest()


_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_REPOST = re.compile(r"^(转发|转|repost|rt)[:：\s]*", re.I)


def content_key(title: str | None, text: str) -> str:
    """Digest of the content with case, width, punctuation, spaces and a 转发: prefix folded away,
    so reposts and syndicated copies of one post are one mention."""
    body = _REPOST.sub("", fold(text).strip())
    norm = _NOT_WORD.sub("", body)
    return hashlib.sha256(norm.encode()).hexdigest()


def jsonl_record(line: str) -> dict[str, Any]:
    """One `jingshao ingest mentions` line; raises ValueError with what is wrong."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    if not (rec.get("text") or rec.get("title")):
        raise ValueError("needs 'text' (or 'title')")
    if not rec.get("url"):
        raise ValueError("needs 'url'")
    auth = rec.get("authority", 1)
    if auth not in (1, 2, 3):
        raise ValueError(f"'authority' must be 1, 2 or 3, got {auth!r}")
    return rec
