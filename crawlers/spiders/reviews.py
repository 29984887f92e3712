"""The `reviews` spider: pages through each product's review source, newest first, and stops
at reviews it already has (incremental) or at the page limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from jingshao.crawlers.config import ReviewSource
from jingshao.crawlers.failures import request_of
from jingshao.crawlers.items import FailedPageItem, ReviewItem, ReviewsCompleteItem
from jingshao.crawlers.reviewparse import ReviewParseError, page_url, parse_review_page
from jingshao.crawlers.spiders.base import TargetsSpider


class ReviewsSpider(TargetsSpider):
    """Targets (`JINGSHAO_TARGETS`): dicts with product_id, source (a ReviewSource as a dict),
    known (fingerprints already stored), category, max_pages."""

    name = "reviews"
    progress_items = (ReviewsCompleteItem,)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for target in self.targets:
            target["src"] = ReviewSource.model_validate(target["source"])
            yield self.page_request(target, 0, page_url(target["src"], 0))

    @classmethod
    def start_payloads(cls, target: dict[str, Any]) -> list[dict[str, Any]]:
        """JSON-safe payloads, one per start request of `target` (queued in Redis by a scaled-out crawl)."""
        source = ReviewSource.model_validate(target["source"]).model_dump(mode="json")
        return [{**target, "source": source, "known": sorted(target.get("known") or ())}]

    def request_from_payload(self, payload: dict[str, Any]) -> scrapy.Request:
        target = {**payload, "known": set(payload.get("known") or ())}
        target["src"] = ReviewSource.model_validate(target["source"])
        return self.page_request(target, 0, page_url(target["src"], 0))

    def page_request(self, target: dict[str, Any], index: int, url: str) -> scrapy.Request:
        meta: dict[str, Any] = {"target": target, "index": index, **self.browser_meta(target["src"].render)}
        return scrapy.Request(url, callback=self.parse_page, errback=self.on_error, meta=meta, dont_filter=True)

    def parse_page(self, response: Response):
        target, index = response.meta["target"], response.meta["index"]
        src: ReviewSource = target["src"]
        pid = target["product_id"]
        text = response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
        try:
            page = parse_review_page(text, src, tz=self.tz, page_url=response.url, now=datetime.now(UTC))
        except ReviewParseError as exc:
            yield FailedPageItem(
                url=response.url, product_id=pid, http_status=response.status, reason=f"review page: {exc}"
            )
            return
        reached_known = False
        for r in page.reviews:
            fp = r.fingerprint(pid)
            if fp in target["known"]:
                reached_known = True
                continue
            yield ReviewItem(
                product_id=pid,
                fingerprint=fp,
                category=target.get("category", "general"),
                **{
                    k: getattr(r, k)
                    for k in (
                        "text",
                        "external_id",
                        "rating",
                        "posted_at",
                        "variant",
                        "helpful",
                        "has_images",
                        "followup",
                        "time_raw",
                    )
                },
            )
        next_url = self.next_page(src, index, page, response.url)
        if reached_known or not page.reviews or next_url is None or index + 1 >= target["max_pages"]:
            yield ReviewsCompleteItem(product_id=pid)
            return
        yield self.page_request(target, index + 1, next_url)

    @staticmethod
    def next_page(src: ReviewSource, index: int, page, url: str) -> str | None:
        if src.pagination == "next":
            return page.next_url if page.next_url and page.next_url != url else None
        if src.pagination == "offset" and len(page.reviews) + page.skipped < src.page_size:
            return None  # a short page is the last one
        return page_url(src, index + 1)

    def on_error(self, failure: Failure):
        yield self.failed_request(failure, "review page", request_of(failure).meta["target"]["product_id"])
