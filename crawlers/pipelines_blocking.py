"""Item pipelines of issue 12, kept apart from the storage pipeline.

- :class:`PageProfilePipeline` folds the body sizes of good product pages into each product's usual size
  (``page_profiles``) in one transaction when the crawl closes: a later page far below it without the
  product block is an empty shell, not the product.
- :class:`EvidencePipeline` (after the storage pipeline) applies evidence retention when the crawl closes;
  the page (and screenshot) behind each observation that changed something is kept, content-addressed, by
  the storage pipeline's batch writer; unchanged pages store nothing.
"""

from __future__ import annotations

import logging

from scrapy import Spider

from jingshao.storage.blocking import update_page_sizes
from jingshao.storage.db import open_database
from jingshao.storage.evidence import EvidenceConfig, apply_retention

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
    """Evidence retention when the crawl closes. The pages themselves are kept by the storage pipeline, in
    the transaction of the batch that appended their observations (issue 15: one lookup per batch, and a
    page is linked only once its observation row exists); this runs after its close (a later priority)."""

    def __init__(self, database_url: str | None, config: EvidenceConfig) -> None:
        self.database_url = database_url
        self.config = config

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(s.get("JINGSHAO_DATABASE_URL"), s.get("JINGSHAO_EVIDENCE") or EvidenceConfig())

    def process_item(self, item, spider: Spider | None = None):
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        if not (self.config.enabled and self.database_url):
            return
        db = open_database(self.database_url, upgrade=False)
        try:
            with db.session() as s:
                dropped = apply_retention(s, self.config)
            if dropped:
                log.info("evidence retention dropped %d old snapshots", dropped)
        except Exception as exc:  # retention runs again after the next crawl
            log.warning("evidence retention failed: %s", type(exc).__name__)
        finally:
            db.dispose()


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
