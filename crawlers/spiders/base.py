"""What the list spiders (reviews, mentions) share: targets from settings, the shop's time zone,
browser meta for render = true sources, failed-page items."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from jingshao.crawlers.failures import describe_failure, request_of
from jingshao.crawlers.items import FailedPageItem


class TargetsSpider(scrapy.Spider, ABC):
    """Targets come from the settings (`JINGSHAO_TARGETS`, built by the spider table in crawlers.registry)."""

    #: Items that finish one target, for the crawl's progress (a product page, a product's reviews).
    progress_items: ClassVar[tuple[type, ...]] = ()

    def __init__(
        self, targets: list[dict[str, Any]] | None = None, timezone: str = "Asia/Shanghai", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.targets = targets or []
        self.tz = ZoneInfo(timezone)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        kwargs.setdefault("targets", crawler.settings.getlist("JINGSHAO_TARGETS"))
        kwargs.setdefault("timezone", crawler.settings.get("JINGSHAO_TIMEZONE", "Asia/Shanghai"))
        return super().from_crawler(crawler, *args, **kwargs)

    @classmethod
    @abstractmethod
    def start_payloads(cls, target: dict[str, Any]) -> list[dict[str, Any]]:
        """The first requests for one target, as JSON-safe dicts (queued for workers); each spider has its own."""

    @staticmethod
    def browser_meta(render: bool) -> dict[str, Any]:
        """scrapy-playwright meta; content filled by XHR arrives after load, so wait for a quiet network."""
        if not render:
            return {}
        return {"playwright": True, "playwright_page_goto_kwargs": {"wait_until": "networkidle"}}

    @staticmethod
    def failed_request(
        failure: Failure, what: str | None = None, product_id: int | None = None, url: str | None = None
    ) -> FailedPageItem:
        status = failure.value.response.status if failure.check(HttpError) else None
        reason = describe_failure(failure)
        return FailedPageItem(
            url=url or request_of(failure).url,
            product_id=product_id,
            http_status=status,
            reason=f"{what}: {reason}" if what else reason,
        )
