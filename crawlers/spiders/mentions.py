"""The `mentions` spider: every configured source, searched for every brand keyword where its
URL has a `{keyword}` placeholder, paginated; each item kept for the brands it names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from jingshao.crawlers.config import BrandConfig, MentionSourceConfig
from jingshao.crawlers.failures import request_of
from jingshao.crawlers.items import FailedPageItem, MentionItem
from jingshao.crawlers.mentionparse import (
    MentionParseError,
    content_key,
    match_brand,
    parse_mention_page,
    url_key,
)
from jingshao.crawlers.spiders.base import TargetsSpider


class MentionsSpider(TargetsSpider):
    """Targets (`JINGSHAO_TARGETS`): {"source": MentionSourceConfig dict, "brands": [BrandConfig dicts]}."""

    name = "mentions"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for target in self.targets:
            for payload in self.start_payloads(target):
                yield self.request_from_payload(payload)

    @classmethod
    def start_payloads(cls, target: dict[str, Any]) -> list[dict[str, Any]]:
        """One JSON-safe payload per start request: per brand keyword where the URL has `{keyword}`."""
        src = MentionSourceConfig.model_validate(target["source"])
        brands = [BrandConfig.model_validate(b) for b in target["brands"]]
        keywords = (
            list(dict.fromkeys(k for b in brands for k in [*b.keywords, *b.aliases]))
            if "{keyword}" in src.url
            else [""]
        )
        source, brand_dicts = src.model_dump(mode="json"), [b.model_dump(mode="json") for b in brands]
        return [{"source": source, "brands": brand_dicts, "keyword": kw} for kw in keywords]

    def request_from_payload(self, payload: dict[str, Any]) -> scrapy.Request:
        src = MentionSourceConfig.model_validate(payload["source"])
        brands = [BrandConfig.model_validate(b) for b in payload["brands"]]
        kw = payload["keyword"]
        return self.page_request(src, brands, 0, self.fill(src.url, kw, src.start), kw)

    @staticmethod
    def fill(url: str, keyword: str, cursor: str) -> str:
        return url.replace("{keyword}", quote(keyword)).replace("{cursor}", quote(cursor))

    def page_request(
        self, src: MentionSourceConfig, brands: list[BrandConfig], index: int, url: str, keyword: str
    ) -> scrapy.Request:
        meta: dict[str, Any] = {
            "src": src,
            "brands": brands,
            "index": index,
            "keyword": keyword,
            **self.browser_meta(src.kind == "render"),
        }
        return scrapy.Request(url, callback=self.parse_page, errback=self.on_error, meta=meta, dont_filter=True)

    def parse_page(self, response: Response):
        src: MentionSourceConfig = response.meta["src"]
        brands: list[BrandConfig] = response.meta["brands"]
        text = response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
        try:
            # The fetch time is the crawl time relative forms (3分钟前) are read against: a worker's spider
            # may run for days, so not the spider's start.
            page = parse_mention_page(text, src, tz=self.tz, page_url=response.url, now=datetime.now(UTC))
        except MentionParseError as exc:
            yield FailedPageItem(
                url=response.url, reason=f"mention source {src.name}: {exc}", http_status=response.status
            )
            return
        for m in page.items:
            full = f"{m.title or ''} {m.text}"
            for brand in brands:
                if match_brand(full, brand):
                    yield MentionItem(
                        brand=brand.name,
                        source=src.name,
                        authority=src.authority,
                        url=m.url,
                        url_key=url_key(m.url),
                        content_key=content_key(m.title, m.text),
                        title=m.title,
                        text=m.text,
                        author=m.author,
                        posted_at=m.posted_at.astimezone(UTC) if m.posted_at else None,
                        time_raw=m.time_raw,
                    )
        index = response.meta["index"]
        if index + 1 >= src.max_pages or not page.items:
            return
        nxt = None
        if src.pagination == "next":
            nxt = page.next_url if page.next_url != response.url else None
        elif src.pagination == "cursor" and page.next_cursor:
            nxt = self.fill(src.url, response.meta["keyword"], page.next_cursor)
        if nxt:
            yield self.page_request(src, brands, index + 1, nxt, response.meta["keyword"])

    def on_error(self, failure: Failure):
        yield self.failed_request(failure, f"mention source {request_of(failure).meta['src'].name}")
