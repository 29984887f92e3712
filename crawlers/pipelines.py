"""Item pipelines: the storage edge of a crawl."""

from __future__ import annotations

import logging

from scrapy import Spider

from jingshao.storage.db import Database, open_database
from jingshao.storage.repository import ObservationOutcome, record_failure, record_observation

from .items import FailedPageItem, ProductObservationItem

log = logging.getLogger(__name__)


class StoragePipeline:
    """Writes each page in its own transaction, so a crash loses at most the page in flight.

    Counts go to the crawler stats under `jingshao/*` for the run summary.
    """

    def __init__(self, database_url: str, run_id: int | None, stats) -> None:  # noqa: ANN001
        self.database_url = database_url
        self.run_id = run_id
        self.stats = stats
        self.db: Database | None = None

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        s = crawler.settings
        return cls(s.get("JINGSHAO_DATABASE_URL"), s.getint("JINGSHAO_RUN_ID") or None, crawler.stats)

    def open_spider(self, spider: Spider | None = None) -> None:
        # The CLI migrated the schema before the crawl started; don't repeat it per process.
        self.db = open_database(self.database_url, upgrade=False)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.db:
            self.db.dispose()

    def process_item(self, item, spider: Spider | None = None):  # noqa: ANN001, ANN201
        assert self.db is not None
        if isinstance(item, ProductObservationItem):
            with self.db.session() as s:
                outcome = record_observation(s, item.product_id, item.fields, sources=item.sources,
                                             crawl_run_id=self.run_id)
            self.stats.inc_value("jingshao/pages")
            key = "unchanged" if outcome is ObservationOutcome.UNCHANGED else "changes"
            self.stats.inc_value(f"jingshao/{key}")
        elif isinstance(item, FailedPageItem):
            with self.db.session() as s:
                record_failure(s, item.url, item.reason, product_id=item.product_id,
                               http_status=item.http_status, crawl_run_id=self.run_id)
            self.stats.inc_value("jingshao/failures")
            log.warning("no observation for %s: %s", item.url, item.reason)
        return item
