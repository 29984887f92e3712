"""Run one crawl in this process (Twisted's reactor cannot restart: one crawl per process).

`crawl_products` is what `jingshao crawl products` runs in the foreground and what the
scheduler's child process runs; it returns a `CrawlSummary`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from jingshao.config import Config
from jingshao.storage.db import open_database
from jingshao.storage.repository import (
    CatalogEntry,
    finish_run,
    known_review_fingerprints,
    mark_interrupted_runs,
    start_run,
    sync_catalog,
)

from .items import FailedPageItem, ProductObservationItem, ReviewsCompleteItem
from .settings import build_settings
from .spiders.mentions import MentionsSpider
from .spiders.products import ProductsSpider
from .spiders.reviews import ReviewsSpider

log = logging.getLogger(__name__)


@dataclass
class CrawlSummary:
    run_id: int
    spider: str
    targets: int
    pages: int = 0
    changes: int = 0
    unchanged: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    finish_reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and self.finish_reason == "finished"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProgressHook:
    """Receives per-page events; the CLI plugs a rich progress bar in here."""

    def start(self, total: int) -> None: ...

    def advance(self, description: str) -> None: ...

    def stop(self) -> None: ...


def _targets(config: Config, spider: str, ids: dict[str, int], db) -> list[dict]:  # noqa: ANN001
    if spider == "products":
        return [{"url": p.url, "product_id": ids[p.url], "render": p.render, "selectors": sel}
                for _, p, sel in config.iter_products()]
    if spider == "mentions":
        brands = {b.name: b for b in config.brands}
        return [{"source": src.model_dump(), "render": src.kind == "render",
                 "brands": [b.model_dump() for n, b in brands.items() if src.brands is None or n in src.brands]}
                for src in config.mention_sources]
    targets = []
    with db.session() as s:
        for comp, p, _ in config.iter_products():
            if p.reviews is None:
                continue
            targets.append({
                "product_id": ids[p.url], "source": p.reviews.model_dump(), "category": comp.category_for(p),
                "known": known_review_fingerprints(s, ids[p.url]), "max_pages": config.crawl.review_max_pages,
            })
    return targets


SPIDERS = {"products": ProductsSpider, "reviews": ReviewsSpider, "mentions": MentionsSpider}


def build_targets(config: Config, spider: str, db) -> list[dict]:  # noqa: ANN001
    """Sync the configured catalog into the database and return the spider's targets.

    Shared by a crawl in this process and by a scaled-out crawl queued in Redis, so both
    crawl exactly the same things."""
    entries = [CatalogEntry(c.name, p.url, p.name, p.render, c.category_for(p)) for c, p, _ in config.iter_products()]
    with db.session() as s:
        ids = sync_catalog(s, entries)
    return _targets(config, spider, ids, db)


def crawl(config: Config, spider: str = "products", *, progress: ProgressHook | None = None,
          log_level: str = "WARNING", extra_settings: dict | None = None) -> CrawlSummary:
    """Run one crawl of `spider` ("products" or "reviews") over the configured products."""
    progress = progress or ProgressHook()
    spider_cls = SPIDERS[spider]
    db = open_database(config.database_url)
    with db.session() as s:
        mark_interrupted_runs(s, _pid_alive)
    targets = build_targets(config, spider, db)
    with db.session() as s:
        run_id = start_run(s, spider, os.getpid())
    needs_browser = any(t.get("render") or t.get("source", {}).get("render") for t in targets)
    settings = build_settings(config, needs_browser=needs_browser, log_level=log_level)
    settings.update({"JINGSHAO_TARGETS": targets, "JINGSHAO_RUN_ID": run_id, "JINGSHAO_NLP": config.nlp,
                     "JINGSHAO_TIMEZONE": config.timezone})
    settings.update(extra_settings or {})
    summary = CrawlSummary(run_id=run_id, spider=spider, targets=len(targets))

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider_cls)
    # Progress counts products: a product page (or its failure), or a product's review list done.
    progress_items = {"products": (ProductObservationItem, FailedPageItem), "reviews": (ReviewsCompleteItem,),
                      "mentions": ()}[spider]

    def on_item(item, response=None, spider=None):  # noqa: ANN001
        if isinstance(item, progress_items):
            progress.advance(getattr(item, "url", "") or f"product #{getattr(item, 'product_id', '')}")

    def on_item_error(item, response, spider, failure):  # noqa: ANN001
        summary.errors.append(f"{getattr(item, 'url', '?')}: could not store: {failure.value}")
        progress.advance(getattr(item, "url", ""))

    def on_spider_error(failure, response, spider):  # noqa: ANN001
        summary.errors.append(f"{response.url}: {type(failure.value).__name__}: {failure.value}")

    crawler.signals.connect(on_item, signal=signals.item_scraped)
    crawler.signals.connect(on_item_error, signal=signals.item_error)
    crawler.signals.connect(on_spider_error, signal=signals.spider_error)
    progress.start(len(targets))
    status = "failed"
    try:
        process.crawl(crawler)
        process.start()
        stats = crawler.stats.get_stats() if crawler.stats else {}
        summary.pages = stats.get("jingshao/pages", 0)
        summary.changes = stats.get("jingshao/changes", 0)
        summary.unchanged = stats.get("jingshao/unchanged", 0)
        summary.failures = stats.get("jingshao/failures", 0)
        summary.finish_reason = stats.get("finish_reason", "")
        status = "finished" if summary.finish_reason == "finished" and not summary.errors else "failed"
    finally:
        progress.stop()
        with db.session() as s:
            finish_run(s, run_id, status=status, pages=summary.pages, changes=summary.changes,
                       unchanged=summary.unchanged, failures=summary.failures, errors=summary.errors[:50])
        db.dispose()
    return summary


def crawl_products(config: Config, **kwargs) -> CrawlSummary:  # noqa: ANN003
    return crawl(config, "products", **kwargs)
