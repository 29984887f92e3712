"""Item pipelines of issue 12 (blocked pages), kept apart from the storage pipeline.

:class:`PageProfilePipeline` folds the body sizes of good product pages into each product's usual size
(``page_profiles``) in one transaction when the crawl closes: a later page far below it without the
product block is an empty shell, not the product.
"""

from __future__ import annotations

import logging

from scrapy import Spider

from jingshao.storage.blocking import update_page_sizes
from jingshao.storage.db import open_database

from .items import ProductObservationItem

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
