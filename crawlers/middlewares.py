"""Downloader middlewares: a pause before retries, conditional requests for product pages."""

from __future__ import annotations

import asyncio
import codecs
import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Response

from jingshao.storage.db import Database, open_database
from jingshao.storage.models import utcnow
from jingshao.storage.repository import PageState, page_states


class RetryBackoffMiddleware:
    """Delay a retried request exponentially (0.5 s, 1 s, 2 s ... capped, with jitter).

    Scrapy's RetryMiddleware re-schedules failed requests at once; a shop that answered 503 or
    429 needs a pause first. This runs before the download of any request that RetryMiddleware
    marked with `retry_times`.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(s.getfloat("RETRY_BACKOFF_BASE", 0.5), s.getfloat("RETRY_BACKOFF_MAX", 30.0))

    def delay_for(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        attempt = request.meta.get("retry_times", 0)
        if attempt:
            await asyncio.sleep(self.delay_for(attempt))
        return None


#: Encodings in which every ASCII character is written as its own single byte, whatever surrounds it: a
#: text holding "refresh" then has those very bytes (case aside) in its encoding.
_ASCII_AS_BYTES = frozenset(
    {
        "ascii",
        "utf-8",
        "gbk",
        "gb18030",
        "gb2312",
        "big5",
        "big5hkscs",
        "cp950",
        "cp936",
        "iso8859-1",
        "cp1252",
        "shift_jis",
        "cp932",
        "euc_jp",
        "euc_kr",
        "cp949",
    }
)
#: Scrapy scans the first 4096 characters of a page: in those encodings no character takes more than 4 bytes.
_SCANNED_BYTES = 4096 * 4


class CheapMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's MetaRefreshMiddleware, which first rules a refresh out in the page's bytes (issue 15).

    Scrapy decodes the first 4096 characters of every HTML response and scans them for ``<meta
    http-equiv="refresh">``: 3 % of a re-crawl's reactor, 1.5 % of a first crawl's, for pages that almost
    never have one. w3lib finds a refresh where a tag's ``http-equiv`` value says "refresh" in ASCII, any
    case; since w3lib 2.6 after decoding its character references (``refre&#115;h``), before it anywhere in
    the tag's text. In an encoding that writes ASCII as itself, a page whose first 16 KiB (4096 characters
    at most) hold neither the word nor an ``http-equiv`` value with a reference cannot declare a refresh
    where Scrapy looks, so its answer is "no refresh" and the response goes on unchanged, as it would; any
    other page (the word present, a reference in such a value, an attribute this cannot read, another
    encoding) is scanned by Scrapy as before."""

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if (
            isinstance(response, HtmlResponse)
            and _ascii_as_bytes(response.encoding)
            # (bytes.lower() folds ASCII only; a regex with IGNORECASE took 4x Scrapy's own scan)
            and _no_refresh_in(response.body[:_SCANNED_BYTES].lower())
        ):
            return response
        return super().process_response(request, response)


#: An attribute's value as the HTML tokenizer reads it right after the name: spaces, "=", spaces, then a
#: quoted or an unquoted value (the bytes are ASCII-lower-cased already).
_ATTR_VALUE = re.compile(rb"[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"[^\"]*\"|'[^']*'|[^\t\n\f\r >]*)")


def _no_refresh_in(head: bytes) -> bool:
    """Whether the lower-cased first bytes of a page can declare no refresh, for every w3lib: no
    "refresh" in them (what w3lib before 2.6 needed anywhere in the tag), and no ``http-equiv`` whose
    value holds a character reference (w3lib 2.6 decodes them). An ``http-equiv`` not followed by a
    value this reads (a valueless one, odd syntax) counts as maybe: Scrapy decides."""
    if b"refresh" in head:
        return False
    at = head.find(b"http-equiv")
    while at != -1:
        value = _ATTR_VALUE.match(head, at + len(b"http-equiv"))
        if value is None or b"&" in value.group():
            return False
        at = head.find(b"http-equiv", value.end())
    return True


def _ascii_as_bytes(encoding: str | None) -> bool:
    try:
        return encoding is not None and codecs.lookup(encoding).name in _ASCII_AS_BYTES
    except LookupError:
        return False


#: Request meta: set by the products spider on a product page request (the middleware below acts on it).
CONDITIONAL = "jingshao_conditional"
#: Request / response meta: the :class:`~jingshao.storage.repository.PageState` read when the request was sent.
PAGE_STATE = "jingshao_page_state"
#: Response meta: validators were sent, so a 304 means the page is the one last stored.
VALIDATED = "jingshao_validated"
#: Request meta: the target's reading digest (``page_reading``), computed once per request and reused by the
#: spider for the page's fingerprint and validators.
READING = "jingshao_reading"


class ConditionalRequestMiddleware:
    """Conditional requests for product pages (issue 15): the last stored page's ETag / Last-Modified go
    out as If-None-Match / If-Modified-Since, and a 304 reaches the spider (it is "seen unchanged").

    The page's state (fingerprint and validators) is read when the request is sent, not when it was
    queued: a crawl of its own targets reads every product's in one statement when the spider opens (no
    one else stores its products' pages meanwhile); a queue worker's request, queued maybe long ago, reads
    its product's row right before it goes out. Validators are only sent when the page is still read the
    same way (extractor version, selectors, variant ...: the reading digest stored with them) and while its
    last full download is younger than ``[crawl] full_fetch_hours`` (a shop whose ETag does not change with
    the page cannot hide a change for longer); a rendered page never gets them (the browser fetches it);
    ``[crawl] conditional_requests = false`` turns them off. Scrapy's HttpCacheMiddleware would revalidate too, but
    it keeps a whole cached response per page; here the database row is the cache."""

    def __init__(self, database_url: str | None, *, enabled: bool = True, full_fetch_hours: float = 24.0) -> None:
        self.database_url = database_url
        self.enabled = enabled
        self.full_fetch_after = timedelta(hours=full_fetch_hours)
        self.db: Database | None = None
        self.known: dict[int, PageState | None] = {}

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        middleware = cls(
            s.get("JINGSHAO_DATABASE_URL"),
            enabled=s.getbool("JINGSHAO_CONDITIONAL_REQUESTS", True),
            full_fetch_hours=s.getfloat("JINGSHAO_FULL_FETCH_HOURS", 24.0),
        )
        crawler.signals.connect(middleware.opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.closed, signal=signals.spider_closed)
        return middleware

    def opened(self, spider: Spider) -> None:
        if not self.database_url:
            return
        self.db = open_database(self.database_url, upgrade=False)
        known = getattr(spider, "page_states_at_open", None)  # read by the products spider when it was made
        if known is not None:
            self.known = dict(known)
            return
        ids = [t["product_id"] for t in getattr(spider, "targets", ()) if t.get("product_id") and t.get("url")]
        if ids:
            with self.db.session() as s:
                states = page_states(s, ids)
            self.known = {pid: states.get(pid) for pid in ids}

    def closed(self, spider: Spider) -> None:
        if self.db is not None:
            self.db.dispose()
            self.db = None

    def state_of(self, product_id: int) -> PageState | None:
        if product_id in self.known:
            return self.known[product_id]
        assert self.db is not None
        with self.db.session() as s:  # a queued request: its product's row as it is now
            return page_states(s, [product_id]).get(product_id)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.meta.get(CONDITIONAL) or self.db is None:
            return None
        from jingshao.crawlers.spiders.products import page_reading

        target = request.meta["target"]
        state = request.meta[PAGE_STATE] = self.state_of(target["product_id"])
        request.meta.pop(VALIDATED, None)
        validators = state.validators if state is not None else None
        reading = request.meta[READING] = page_reading(target)
        if (
            not self.enabled
            or not validators
            or request.meta.get("playwright")
            or validators.get("reading") != reading
            or not self.fresh(validators)
        ):
            return None
        sent = False
        if validators.get("etag"):
            request.headers["If-None-Match"] = validators["etag"]
            sent = True
        if validators.get("last_modified"):
            request.headers["If-Modified-Since"] = validators["last_modified"]
            sent = True
        if sent:
            request.meta[VALIDATED] = True
            request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", ()), 304]
        return None

    def fresh(self, validators: Mapping[str, Any]) -> bool:
        """Whether the page was downloaded in full recently enough to trust a 304: a shop whose ETag does not
        change with the page (a misconfigured CDN) would otherwise hide every later change."""
        try:
            fetched = datetime.fromisoformat(validators["fetched_at"])
        except (KeyError, TypeError, ValueError):
            return False
        return utcnow() - fetched < self.full_fetch_after


def page_validators(
    response: Response, reading: str, fallback: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The response's ETag / Last-Modified with the reading digest and the time of this full download (None:
    the site sends neither). For a 304 (``fallback``: the validators it answered) the time of the last full
    download stays, and so do the validators when the 304 repeats none."""
    etag = response.headers.get("ETag")
    modified = response.headers.get("Last-Modified")
    if not (etag or modified):
        return dict(fallback) if fallback else None
    fetched_at = fallback.get("fetched_at") if fallback else utcnow().isoformat()
    return {
        "etag": etag.decode("latin-1") if etag else None,
        "last_modified": modified.decode("latin-1") if modified else None,
        "reading": reading,
        "fetched_at": fetched_at,
    }
