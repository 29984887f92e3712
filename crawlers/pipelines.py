"""Item pipelines: the storage edge of a crawl.

One pipeline per item type, plus the enrichment pipeline they share (issue 17): Scrapy sees one
:class:`StoragePipeline`, which hands each item to the pipeline registered for its type in
:attr:`StoragePipeline.pipelines`. A new item type is one small class and one entry there; a hook
that must see every item (blocked pages, evidence ...) is a Scrapy pipeline of its own before it.
Everything stays in one Scrapy pipeline on purpose: the queue worker acknowledges a request only
after every item of its response was stored (:mod:`jingshao.crawlers.worker`), which one owner of
the database and of the buffers makes easy to keep true.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Any

from scrapy import Spider
from sqlalchemy import insert
from sqlalchemy.orm import Session
from twisted.internet import task

from jingshao.nlp.settings import NlpConfig
from jingshao.storage.db import Database, open_database
from jingshao.storage.evidence import (
    EvidenceConfig,
    PageEvidence,
    attach_evidence_batch,
    observations_with_evidence,
    pack,
)
from jingshao.storage.models import AdlawHit, utcnow
from jingshao.storage.repository import (
    ObservationOutcome,
    PageWrite,
    insert_mentions,
    mark_reviews_complete,
    record_failure,
    upsert_reviews,
    write_pages,
)

from .enrichment import Enricher
from .items import BlockedPageItem, FailedPageItem, MentionItem, ProductObservationItem, ReviewItem, ReviewsCompleteItem

log = logging.getLogger(__name__)


class EnrichmentPipeline:
    """The nlp layer's columns for what the crawl stores: ad-law hits of a product's copy,
    sentiment / tags of reviews, sentiment / label of mentions (in batches: one at a time is far
    slower). Models load on first use, so a crawl that stores no review never loads one."""

    def __init__(self, nlp: NlpConfig) -> None:
        self.enricher = Enricher(nlp)

    def adlaw_hits(self, title: str | None, promo: str | None) -> list[dict[str, Any]]:
        return self.enricher.adlaw_hits({"title": title, "promo": promo})

    def reviews(self, batch: Sequence[ReviewItem]) -> list[dict[str, Any]]:
        return self.enricher.review_columns([r.text for r in batch], [r.category for r in batch])

    def mentions(self, batch: Sequence[MentionItem]) -> list[dict[str, Any]]:
        return self.enricher.mention_columns([f"{m.title or ''} {m.text}".strip() for m in batch])


class ItemPipeline(ABC):
    """Stores one item type. ``owner`` gives the database, the stats, the crawl run and enrichment."""

    def __init__(self, owner: StoragePipeline) -> None:
        self.owner = owner

    @abstractmethod
    def process(self, item: Any) -> None:
        """Store (or buffer) one item of this pipeline's type."""

    def flush(self) -> None:  # noqa: B027 - a hook: pipelines that buffer override it, the rest keep this no-op
        """Write whatever is buffered (called on close, and by the queue worker per request)."""


class ProductPipeline(ItemPipeline):
    """Product pages, written in batches (issue 15): one transaction per batch of at most
    ``owner.product_batch`` pages, flushed when it is full, when its oldest page waited
    ``owner.product_batch_seconds`` (a timer checks while the crawl is quiet), when the spider closes
    (SIGTERM closes it too) and by the queue worker before it acknowledges a request. A kill -9 loses
    at most the batch in memory (the next crawl fetches those pages again; nothing is written twice).

    :func:`~jingshao.storage.repository.write_pages` makes one lookup of the latest observations for
    the whole batch and writes with Core statements; ad-law hits only for a new or changed observation,
    and the page itself as evidence (issue 12) in the same transaction. A page the spider saw unchanged
    (same fingerprint) only moves the latest observation's last_seen_at."""

    def __init__(self, owner: StoragePipeline) -> None:
        super().__init__(owner)
        self.pending: list[tuple[ProductObservationItem, PageWrite]] = []
        self.oldest = 0.0  # monotonic time the oldest pending page arrived
        # Issue 15: a product's first page is its new observation, so its evidence is kept: it is compressed
        # in a thread (zlib lets go of the GIL) while the reactor goes on, not in the batch's transaction on
        # the reactor (gzip took ~0.7 ms a page there). Any other page is compressed at the flush, once the
        # batch knows it changed something. id(item) -> the compressed body.
        self.packer: ThreadPoolExecutor | None = None
        self.packed: dict[int, Future[bytes]] = {}

    def pack_ahead(self, item: ProductObservationItem) -> None:
        evidence = self.owner.evidence
        if not (item.first_page and item.body and evidence is not None and evidence.enabled):
            return
        if self.packer is None:
            self.packer = ThreadPoolExecutor(1, thread_name_prefix="evidence-pack")
        self.packed[id(item)] = self.packer.submit(pack, item.body)

    def close(self) -> None:
        if self.packer is not None:
            self.packer.shutdown(wait=True, cancel_futures=True)
            self.packer = None

    def process(self, item: ProductObservationItem) -> None:
        owner = self.owner
        if item.seen_unchanged:
            page = PageWrite(
                item.product_id,
                {},
                seen_unchanged=True,
                seen_at=utcnow(),
                # Issue 15: the product's stored state is this page's already: no UPDATE of it (None: not written)
                fingerprint=None if item.state_kept else item.fingerprint,
                validators=item.validators,
            )
        else:
            page = PageWrite(
                item.product_id,
                item.fields,
                sources=item.sources,
                crawl_run_id=owner.run_id,
                seen_at=utcnow(),
                fingerprint=item.fingerprint,
                validators=item.validators,
                **item.extras,
            )
        if not self.pending:
            self.oldest = time.monotonic()
        self.pack_ahead(item)
        self.pending.append((item, page))
        if len(self.pending) >= owner.product_batch or self.due():
            self.flush()

    def due(self) -> bool:
        return bool(self.pending) and time.monotonic() - self.oldest >= self.owner.product_batch_seconds

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        owner = self.owner
        evidence = owner.evidence if owner.evidence is not None and owner.evidence.enabled else None
        packed, self.packed = self.packed, {}
        try:
            self.write(batch, evidence, packed)
        finally:
            for future in packed.values():
                future.cancel()  # not needed after all (or the batch failed): nothing waits for it

    def write(
        self,
        batch: list[tuple[ProductObservationItem, PageWrite]],
        evidence: EvidenceConfig | None,
        packed: dict[int, Future[bytes]],
    ) -> None:
        owner = self.owner
        with owner.session() as s:
            written = write_pages(s, [page for _, page in batch])
            hits_rows: list[dict[str, Any]] = []
            pages: list[PageEvidence] = []  # issue 12: the page behind each new or changed observation
            unchanged_with_body: list[PageEvidence] = []
            for (item, _), result in zip(batch, written, strict=True):
                if result.observation_id is None:
                    continue
                ahead = packed.get(id(item))
                page = PageEvidence(
                    result.observation_id,
                    item.product_id,
                    item.url,
                    item.body or b"",
                    item.screenshot,
                    packed_html=ahead.result() if ahead is not None else None,
                )
                if result.outcome in (ObservationOutcome.NEW, ObservationOutcome.CHANGED):
                    hits = item.adlaw_hits
                    if hits is None:
                        hits = owner.enrichment.adlaw_hits(item.fields.get("title"), item.fields.get("promo"))
                    hits_rows += [
                        {"observation_id": result.observation_id, "product_id": item.product_id, **h} for h in hits
                    ]
                    owner.stats.inc_value("jingshao/adlaw_hits", len(hits))
                    if evidence is not None and item.body:
                        pages.append(page)
                elif evidence is not None and item.body:
                    unchanged_with_body.append(page)
            if hits_rows:
                s.execute(insert(AdlawHit), hits_rows)  # one executemany (Core-style bulk INSERT)
            if unchanged_with_body:  # the latest observation kept no page yet (evidence was off, say)
                have = observations_with_evidence(s, [p.observation_id for p in unchanged_with_body])
                have |= {p.observation_id for p in pages}  # appended in this batch, linked below
                for page in unchanged_with_body:
                    if page.observation_id not in have:
                        pages.append(page)
                        have.add(page.observation_id)
            owner.evidence_stored += attach_evidence_batch(s, pages)
        for (item, _), result in zip(batch, written, strict=True):
            owner.stats.inc_value("jingshao/pages")
            unchanged = result.outcome in (ObservationOutcome.UNCHANGED, None)
            owner.stats.inc_value("jingshao/unchanged" if unchanged else "jingshao/changes")
            if item.seen_unchanged:
                owner.stats.inc_value("jingshao/skipped_unchanged")
            if item.not_modified:
                owner.stats.inc_value("jingshao/not_modified")
            item.stored_as = "unchanged" if unchanged else "changed"  # for the summary


class _BufferedPipeline(ItemPipeline):
    """Items buffered and written (and scored) in batches of ``owner.review_batch``."""

    def __init__(self, owner: StoragePipeline) -> None:
        super().__init__(owner)
        self.pending: list[Any] = []

    def process(self, item: Any) -> None:
        self.pending.append(item)
        if len(self.pending) >= self.owner.review_batch:
            self.owner.flush_kind(type(self))

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        new = self.write(batch)
        owner = self.owner
        owner.count_unreadable(batch)
        owner.stats.inc_value("jingshao/pages", len(batch))
        owner.stats.inc_value("jingshao/changes", new)
        owner.stats.inc_value("jingshao/unchanged", len(batch) - new)

    @abstractmethod
    def write(self, batch: list[Any]) -> int:
        """Store one batch; returns how many rows were new."""


class ReviewPipeline(_BufferedPipeline):
    """Reviews, upserted by fingerprint (a re-crawl or a crash-restart never double counts)."""

    def write(self, batch: list[ReviewItem]) -> int:
        rows = []
        for r, extra in zip(batch, self.owner.enrichment.reviews(batch), strict=True):
            row = asdict(r)
            row.pop("category")
            rows.append({**row, **extra, "crawl_run_id": self.owner.run_id})
        with self.owner.session() as s:
            return upsert_reviews(s, rows)


class ReviewsCompletePipeline(ItemPipeline):
    """A product's "complete" mark, written only after its reviews: a crash before it makes the next
    crawl walk that product's list again (upserts make that harmless)."""

    def process(self, item: ReviewsCompleteItem) -> None:
        self.owner.flush_kind(ReviewPipeline)
        with self.owner.session() as s:
            mark_reviews_complete(s, item.product_id)


class MentionPipeline(_BufferedPipeline):
    """Mentions, scored in a batch; the ones not seen before (by URL or by content) are inserted."""

    def write(self, batch: list[MentionItem]) -> int:
        cols = self.owner.enrichment.mentions(batch)
        rows = [{**asdict(m), **c, "crawl_run_id": self.owner.run_id} for m, c in zip(batch, cols, strict=True)]
        with self.owner.session() as s:
            return insert_mentions(s, rows)


class FailurePipeline(ItemPipeline):
    """A page that gave no usable observation, recorded with its reason (never as price 0); a blocked
    page (issue 12) is recorded and counted as blocked."""

    def process(self, item: FailedPageItem) -> None:
        owner = self.owner
        with owner.session() as s:
            record_failure(
                s,
                item.url,
                item.reason,
                product_id=item.product_id,
                http_status=item.http_status,
                crawl_run_id=owner.run_id,
                kind="blocked" if isinstance(item, BlockedPageItem) else "failed",  # issue 12
            )
        owner.stats.inc_value("jingshao/blocked" if isinstance(item, BlockedPageItem) else "jingshao/failures")
        log.warning("no data from %s: %s", item.url, item.reason)


class StoragePipeline:
    """Writes what the spiders find, enriched by the nlp layer, through the pipeline of each item type.

    Counts go to the crawler stats under `jingshao/*` for the run summary. A review or mention whose
    time could not be read is stored with posted_at NULL and the site's text in time_raw (counted as
    `jingshao/unreadable_times`), never given the crawl time: it stays out of every time window.
    """

    review_batch = 256
    #: Product pages per transaction, and the seconds a page may wait for its batch (issue 15).
    product_batch = 100
    product_batch_seconds = 1.0
    #: item type -> the pipeline class that stores it (flushed on close in this order)
    pipelines: dict[type, type[ItemPipeline]] = {
        ProductObservationItem: ProductPipeline,
        ReviewItem: ReviewPipeline,
        ReviewsCompleteItem: ReviewsCompletePipeline,
        MentionItem: MentionPipeline,
        FailedPageItem: FailurePipeline,
    }

    def __init__(
        self,
        database_url: str,
        run_id: int | None,
        stats,
        nlp: NlpConfig,
        *,
        evidence: EvidenceConfig | None = None,
        product_batch: int | None = None,
        product_batch_seconds: float | None = None,
    ) -> None:
        self.database_url = database_url
        self.run_id = run_id
        self.stats = stats
        self.enrichment = EnrichmentPipeline(nlp)
        self.evidence = evidence  # issue 12: the page behind each changing observation (None: off)
        self.evidence_stored = 0
        if product_batch is not None:
            self.product_batch = max(1, product_batch)
        if product_batch_seconds is not None:
            self.product_batch_seconds = product_batch_seconds
        self.db: Database | None = None
        self.crawler: Any = None
        self.timer: task.LoopingCall | None = None
        self.by_kind: dict[type[ItemPipeline], ItemPipeline] = {}
        self.by_item: dict[type, ItemPipeline] = {}
        for item_type, kind in self.pipelines.items():
            stage = self.by_kind.get(kind) or self.by_kind.setdefault(kind, kind(self))
            self.by_item[item_type] = stage

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        nlp = s.get("JINGSHAO_NLP") or NlpConfig()
        pipeline = cls(
            s.get("JINGSHAO_DATABASE_URL"),
            s.getint("JINGSHAO_RUN_ID") or None,
            crawler.stats,
            nlp,
            evidence=s.get("JINGSHAO_EVIDENCE"),
            product_batch=s.getint("JINGSHAO_PRODUCT_BATCH", cls.product_batch),
            product_batch_seconds=s.getfloat("JINGSHAO_PRODUCT_BATCH_SECONDS", cls.product_batch_seconds),
        )
        pipeline.crawler = crawler
        return pipeline

    @property
    def enricher(self) -> Enricher:
        return self.enrichment.enricher

    def open_spider(self, spider: Spider | None = None) -> None:
        # The CLI migrated the schema before the crawl started; don't repeat it per process.
        self.db = open_database(self.database_url, upgrade=False)
        if self.product_batch > 1:  # a batch waiting in a quiet crawl is written after its age bound
            self.timer = task.LoopingCall(self.flush_due_products, spider)
            self.timer.start(max(0.05, self.product_batch_seconds / 4), now=False)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.timer is not None and self.timer.running:
            self.timer.stop()
        if self.db:
            try:
                self.flush_reviews()
                self.flush_mentions()
                for stage in self.by_kind.values():
                    stage.flush()
            except Exception as exc:
                self.store_failed(exc)
                raise
            finally:
                self.db.dispose()
                for stage in self.by_kind.values():
                    if isinstance(stage, ProductPipeline):
                        stage.close()

    def flush_due_products(self, spider: Spider | None = None) -> None:
        """The timer's check: write the pending product pages once the oldest waited its age bound."""
        stage = self.by_kind[ProductPipeline]
        if not isinstance(stage, ProductPipeline) or not stage.due():
            return
        try:
            stage.flush()
        except Exception as exc:  # the database is gone, locked or full: stop the crawl, say why
            self.store_failed(exc)
            engine = getattr(self.crawler, "engine", None)
            if engine is not None and spider is not None:
                engine.close_spider(spider, "store_failed")

    def store_failed(self, exc: BaseException) -> None:
        """A batch could not be stored outside an item's own processing (timer, close): the crawl's summary
        reports it (``jingshao/store_error``) and the run is recorded as failed."""
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        if not self.stats.get_value("jingshao/store_error"):
            self.stats.set_value("jingshao/store_error", detail)
        log.error("cannot store into the database (%s)", detail)

    def session(self) -> AbstractContextManager[Session]:
        """A transaction on the crawl's database (open_spider opened it)."""
        assert self.db is not None, "open_spider opens the database first"
        return self.db.session()

    def process_item(self, item, spider: Spider | None = None):
        assert self.db is not None
        for klass in type(item).__mro__:  # subclasses of an item type go to its pipeline too
            stage = self.by_item.get(klass)
            if stage is not None:
                stage.process(item)
                break
        return item

    def flush_kind(self, kind: type[ItemPipeline]) -> None:
        """Flush one buffered kind through the public flush methods (the queue worker wraps them)."""
        if kind is ReviewPipeline:
            self.flush_reviews()
        elif kind is MentionPipeline:
            self.flush_mentions()
        else:
            self.by_kind[kind].flush()

    # The buffers by name: the queue worker regroups them per crawl run before flushing.
    @property
    def pending_reviews(self) -> list[ReviewItem]:
        return self.by_kind[ReviewPipeline].pending  # type: ignore[attr-defined]

    @pending_reviews.setter
    def pending_reviews(self, value: list[ReviewItem]) -> None:
        self.by_kind[ReviewPipeline].pending = value  # type: ignore[attr-defined]

    @property
    def pending_mentions(self) -> list[MentionItem]:
        return self.by_kind[MentionPipeline].pending  # type: ignore[attr-defined]

    @pending_mentions.setter
    def pending_mentions(self, value: list[MentionItem]) -> None:
        self.by_kind[MentionPipeline].pending = value  # type: ignore[attr-defined]

    def flush_reviews(self) -> None:
        self.by_kind[ReviewPipeline].flush()

    def flush_mentions(self) -> None:
        self.by_kind[MentionPipeline].flush()

    def count_unreadable(self, batch: Sequence[ReviewItem] | Sequence[MentionItem]) -> None:
        unreadable = sum(1 for item in batch if item.posted_at is None and item.time_raw)
        if unreadable:
            self.stats.inc_value("jingshao/unreadable_times", unreadable)
            log.warning(
                "%d items with a time that cannot be read (kept without a time), e.g. %r",
                unreadable,
                next(i.time_raw for i in batch if i.posted_at is None and i.time_raw),
            )


__all__ = [
    "EnrichmentPipeline",
    "FailurePipeline",
    "ItemPipeline",
    "MentionPipeline",
    "ProductPipeline",
    "ReviewPipeline",
    "ReviewsCompletePipeline",
    "StoragePipeline",
]
