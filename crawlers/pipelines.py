"""Item pipelines: the storage edge of a crawl."""

from __future__ import annotations

import logging
from dataclasses import asdict

from scrapy import Spider

from jingshao.nlp.settings import NlpConfig
from jingshao.storage.db import Database, open_database
from jingshao.storage.models import AdlawHit
from jingshao.storage.repository import (
    ObservationOutcome,
    insert_mentions,
    latest_observation,
    mark_reviews_complete,
    record_failure,
    record_observation,
    upsert_reviews,
)

from .enrichment import Enricher
from .items import BlockedPageItem, FailedPageItem, MentionItem, ProductObservationItem, ReviewItem, ReviewsCompleteItem

log = logging.getLogger(__name__)


class StoragePipeline:
    """Writes what the spiders find, enriched by the nlp layer.

    Product pages are written one per transaction, so a crash loses at most the page in flight.
    Reviews are buffered and scored in batches (scoring one at a time is far slower); a product's
    "complete" mark is written only after its reviews, so a crash before it makes the next crawl
    walk that product's list again (upserts make that harmless). Counts go to the crawler stats
    under `jingshao/*` for the run summary. A review or mention whose time could not be read is stored
    with posted_at NULL and the site's text in time_raw (counted as `jingshao/unreadable_times`), never
    given the crawl time: it stays out of every time window.
    """

    review_batch = 256

    def __init__(self, database_url: str, run_id: int | None, stats, nlp: NlpConfig) -> None:
        self.database_url = database_url
        self.run_id = run_id
        self.stats = stats
        self.enricher = Enricher(nlp)
        self.db: Database | None = None
        self.pending_reviews: list[ReviewItem] = []
        self.pending_mentions: list[MentionItem] = []

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        nlp = s.get("JINGSHAO_NLP") or NlpConfig()
        return cls(s.get("JINGSHAO_DATABASE_URL"), s.getint("JINGSHAO_RUN_ID") or None, crawler.stats, nlp)

    def open_spider(self, spider: Spider | None = None) -> None:
        # The CLI migrated the schema before the crawl started; don't repeat it per process.
        self.db = open_database(self.database_url, upgrade=False)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.db:
            self.flush_reviews()
            self.flush_mentions()
            self.db.dispose()

    def process_item(self, item, spider: Spider | None = None):
        assert self.db is not None
        if isinstance(item, ProductObservationItem):
            self.store_observation(item)
        elif isinstance(item, ReviewItem):
            self.pending_reviews.append(item)
            if len(self.pending_reviews) >= self.review_batch:
                self.flush_reviews()
        elif isinstance(item, MentionItem):
            self.pending_mentions.append(item)
            if len(self.pending_mentions) >= self.review_batch:
                self.flush_mentions()
        elif isinstance(item, ReviewsCompleteItem):
            self.flush_reviews()
            with self.db.session() as s:
                mark_reviews_complete(s, item.product_id)
        elif isinstance(item, FailedPageItem):
            with self.db.session() as s:
                record_failure(
                    s,
                    item.url,
                    item.reason,
                    product_id=item.product_id,
                    http_status=item.http_status,
                    crawl_run_id=self.run_id,
                    kind="blocked" if isinstance(item, BlockedPageItem) else "failed",  # issue 12
                )
            self.stats.inc_value("jingshao/blocked" if isinstance(item, BlockedPageItem) else "jingshao/failures")
            log.warning("no data from %s: %s", item.url, item.reason)
        return item

    def _session(self):
        assert self.db is not None, "open_spider opens the database first"
        return self.db.session()

    def store_observation(self, item: ProductObservationItem) -> None:
        with self._session() as s:
            outcome = record_observation(
                s, item.product_id, item.fields, sources=item.sources, crawl_run_id=self.run_id, **item.extras
            )
            if outcome is not ObservationOutcome.UNCHANGED:
                obs = latest_observation(s, item.product_id)
                assert obs is not None  # just recorded
                hits = self.enricher.adlaw_hits({"title": obs.title, "promo": obs.promo})
                s.add_all(AdlawHit(observation_id=obs.id, product_id=obs.product_id, **h) for h in hits)
                self.stats.inc_value("jingshao/adlaw_hits", len(hits))
        self.stats.inc_value("jingshao/pages")
        key = "unchanged" if outcome is ObservationOutcome.UNCHANGED else "changes"
        self.stats.inc_value(f"jingshao/{key}")

    def flush_reviews(self) -> None:
        batch, self.pending_reviews = self.pending_reviews, []
        if not batch:
            return
        columns = self.enricher.review_columns([r.text for r in batch], [r.category for r in batch])
        rows = []
        for r, extra in zip(batch, columns, strict=True):
            row = asdict(r)
            row.pop("category")
            rows.append({**row, **extra, "crawl_run_id": self.run_id})
        with self._session() as s:
            new = upsert_reviews(s, rows)
        self.count_unreadable(batch)
        self.stats.inc_value("jingshao/pages", len(batch))
        self.stats.inc_value("jingshao/changes", new)
        self.stats.inc_value("jingshao/unchanged", len(batch) - new)

    def flush_mentions(self) -> None:
        """Score a batch of mentions and insert the ones not seen before (by URL or by content)."""
        batch, self.pending_mentions = self.pending_mentions, []
        if not batch:
            return
        cols = self.enricher.mention_columns([f"{m.title or ''} {m.text}".strip() for m in batch])
        rows = [{**asdict(m), **c, "crawl_run_id": self.run_id} for m, c in zip(batch, cols, strict=True)]
        with self._session() as s:
            new = insert_mentions(s, rows)
        self.count_unreadable(batch)
        self.stats.inc_value("jingshao/pages", len(batch))
        self.stats.inc_value("jingshao/changes", new)
        self.stats.inc_value("jingshao/unchanged", len(batch) - new)

    def count_unreadable(self, batch: list[ReviewItem] | list[MentionItem]) -> None:
        unreadable = sum(1 for item in batch if item.posted_at is None and item.time_raw)
        if unreadable:
            self.stats.inc_value("jingshao/unreadable_times", unreadable)
            log.warning(
                "%d items with a time that cannot be read (kept without a time), e.g. %r",
                unreadable,
                next(i.time_raw for i in batch if i.posted_at is None and i.time_raw),
            )
