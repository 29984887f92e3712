"""Item pipelines of issue 12, kept apart from the storage pipeline.

- :class:`PageProfilePipeline` folds the body sizes of good product pages into each product's usual size
  (``page_profiles``) in one transaction when the crawl closes: a later page far below it without the
  product block is an empty shell, not the product.
- :class:`EvidencePipeline` (after the storage pipeline) keeps the page (and screenshot) behind each
  observation that changed something, content-addressed; unchanged pages store nothing. Retention runs
  when the crawl closes.
"""

from __future__ import annotations

import logging

from scrapy import Spider

from jingshao.storage.blocking import update_page_sizes
from jingshao.storage.db import Database, open_database
from jingshao.storage.evidence import EvidenceConfig, apply_retention, attach_evidence

from .items import ListPriceItem, ProductObservationItem

log = logging.getLogger(__name__)


class PageProfilePipeline:
    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self.sizes: dict[int, int] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("JINGSHAO_DATABASE_URL"))

    def process_item(self, item, spider: Spider | None = None):
        if isinstance(item, ProductObservationItem) and item.page_bytes:
            self.sizes[item.product_id] = item.page_bytes
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        if not (self.sizes and self.database_url):
            return
        db = open_database(self.database_url, upgrade=False)
        try:
            with db.session() as s:
                update_page_sizes(s, self.sizes)
        except Exception as exc:  # sizes are a hint for the next crawl; the pages themselves are stored
            log.warning("could not store the usual page sizes: %s", type(exc).__name__)
        finally:
            db.dispose()


class EvidencePipeline:
    def __init__(self, database_url: str | None, config: EvidenceConfig) -> None:
        self.database_url = database_url
        self.config = config
        self.db: Database | None = None
        self.stored = 0

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(s.get("JINGSHAO_DATABASE_URL"), s.get("JINGSHAO_EVIDENCE") or EvidenceConfig())

    def open_spider(self, spider: Spider | None = None) -> None:
        if self.config.enabled and self.database_url:
            self.db = open_database(self.database_url, upgrade=False)

    def process_item(self, item, spider: Spider | None = None):
        if self.db is not None and isinstance(item, ProductObservationItem) and item.body:
            with self.db.session() as s:
                if attach_evidence(s, item.product_id, item.url, item.body, item.screenshot):
                    self.stored += 1
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.db is None:
            return
        try:
            with self.db.session() as s:
                dropped = apply_retention(s, self.config)
            if dropped:
                log.info("evidence retention dropped %d old snapshots", dropped)
        except Exception as exc:  # retention runs again after the next crawl
            log.warning("evidence retention failed: %s", type(exc).__name__)
        finally:
            self.db.dispose()
            self.db = None


class ListPricePipeline:
    """Stores the prices list / search pages show (``list_page_prices``), for Article 20 audits."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self.rows: list[ListPriceItem] = []

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("JINGSHAO_DATABASE_URL"))

    def process_item(self, item, spider: Spider | None = None):
        if isinstance(item, ListPriceItem):
            self.rows.append(item)
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        if not (self.rows and self.database_url):
            return
        from jingshao.storage.models import ListPagePrice

        db = open_database(self.database_url, upgrade=False)
        try:
            with db.session() as s:
                s.add_all(ListPagePrice(product_id=r.product_id, page_url=r.page_url, price=r.price) for r in self.rows)
        except Exception as exc:  # the detail pages are stored; a list price is a hint for the audit
            log.warning("could not store list page prices: %s", type(exc).__name__)
        finally:
            db.dispose()
