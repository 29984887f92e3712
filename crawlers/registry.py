"""The spider table: every spider in one place, for the crawl runner, the Redis workers, the
scheduler and the CLI.

A row says what a spider is called (``jingshao crawl NAME``, the ``[schedule]`` key, the
``crawl_NAME`` job), which Scrapy class runs it, what it needs from the config before a crawl makes
sense, and how its targets are built from the config and the catalog. Adding a spider is a spider
module plus one row in :data:`SPIDERS` (and its ``[schedule]`` key in :mod:`jingshao.core.triggers`).

The spider class is named by its import path and imported when a crawl starts: the scheduler reads
this table in a process that never loads Scrapy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jingshao.crawlers.catalog import WatchedProduct
from jingshao.crawlers.config import CrawlerInputs
from jingshao.storage.blocking import usual_page_sizes
from jingshao.storage.db import Database
from jingshao.storage.repository import known_review_fingerprints

if TYPE_CHECKING:
    from jingshao.crawlers.spiders.base import TargetsSpider


def product_targets(config: CrawlerInputs, watched: Sequence[WatchedProduct], db: Database) -> list[dict[str, Any]]:
    """One target per watched product page."""
    with db.session() as s:  # issue 12: a page far below its usual size without the product is a shell
        usual = usual_page_sizes(s, [w.product_id for w in watched])
    # Issue 15: the last stored page's fingerprint and validators are not in the target: the
    # ConditionalRequestMiddleware reads them when the request is sent (a queued target would carry stale ones).
    return [
        {
            "url": w.product.url,
            "product_id": w.product_id,
            "competitor": w.competitor,
            "usual_bytes": usual.get(w.product_id),
            "render": w.product.render,
            "selectors": w.selectors,
            "variant": w.product.variant,
            "quantity": w.product.quantity,
            "plausibility_factor": w.product.plausibility_factor,
            # issue 12: a list / search page showing this product (Article 20 audits)
            "list_page": lp.model_dump() if (lp := getattr(w.product, "list_page", None)) else None,
        }
        for w in watched
    ]


def review_targets(config: CrawlerInputs, watched: Sequence[WatchedProduct], db: Database) -> list[dict[str, Any]]:
    """One target per watched product with a review source, with the reviews already stored."""
    targets = []
    with db.session() as s:
        for w in watched:
            if w.product.reviews is None:
                continue
            targets.append(
                {
                    "product_id": w.product_id,
                    "source": w.product.reviews.model_dump(),
                    "category": w.category,
                    "known": known_review_fingerprints(s, w.product_id),
                    "max_pages": config.crawl.review_max_pages,
                }
            )
    return targets


def mention_targets(config: CrawlerInputs, watched: Sequence[WatchedProduct], db: Database) -> list[dict[str, Any]]:
    """One target per mention source, with the brands it searches for."""
    brands = {b.name: b for b in config.brands}
    return [
        {
            "source": src.model_dump(),
            "render": src.kind == "render",
            "brands": [b.model_dump() for n, b in brands.items() if src.brands is None or n in src.brands],
        }
        for src in config.mention_sources
    ]


@dataclass(frozen=True)
class SpiderKind:
    """One spider: its name, its Scrapy class (``"module:Class"``) and what it crawls."""

    name: str
    spider: str
    #: What one target is, for progress lines (``抓取 crawling 12 个商品 products``).
    units: str
    #: Whether it crawls the watched products (file and web UI); the catalog is synced first then.
    uses_catalog: bool
    #: Whether ``jingshao crawl NAME`` has anything to crawl (given the web UI's products) ...
    has_work: Callable[[CrawlerInputs, Sequence[WatchedProduct]], bool]
    #: ... and whether the scheduler plans its ``crawl_NAME`` job.
    worth_scheduling: Callable[[CrawlerInputs, Sequence[WatchedProduct]], bool]
    #: Its targets (``JINGSHAO_TARGETS``), built from the config and the watched products.
    targets: Callable[[CrawlerInputs, Sequence[WatchedProduct], Database], list[dict[str, Any]]]
    #: Why there is nothing to crawl, for ``jingshao crawl NAME`` (exit code 2).
    nothing_to_do: str

    def spider_class(self) -> type[TargetsSpider]:
        module, _, name = self.spider.partition(":")
        return getattr(importlib.import_module(module), name)


def _any_products(config: CrawlerInputs, web: Sequence[WatchedProduct]) -> bool:
    return bool(web) or any(True for _ in config.iter_products())


def _any_reviews(config: CrawlerInputs, web: Sequence[WatchedProduct]) -> bool:
    return any(p.reviews for _, p, _ in config.iter_products()) or any(w.product.reviews for w in web)


def _any_mentions(config: CrawlerInputs, web: Sequence[WatchedProduct]) -> bool:
    return bool(config.brands and config.mention_sources)


SPIDERS: dict[str, SpiderKind] = {
    kind.name: kind
    for kind in (
        SpiderKind(
            "products",
            "jingshao.crawlers.spiders.products:ProductsSpider",
            "个商品 products",
            True,
            _any_products,
            _any_products,
            product_targets,
            "no [[competitors.products]] configured (nor added in the web UI); nothing to crawl",
        ),
        SpiderKind(
            "reviews",
            "jingshao.crawlers.spiders.reviews:ReviewsSpider",
            "个商品的评价 products' reviews",
            True,
            _any_products,  # `crawl reviews` with products but no review source: an empty, finished crawl
            _any_reviews,
            review_targets,
            "no [[competitors.products]] configured (nor added in the web UI); nothing to crawl",
        ),
        SpiderKind(
            "mentions",
            "jingshao.crawlers.spiders.mentions:MentionsSpider",
            "个来源 sources",
            False,
            _any_mentions,
            _any_mentions,
            mention_targets,
            "mentions need [[brands]] and [[mention_sources]]; nothing to crawl",
        ),
    )
}


def spider_kind(name: str) -> SpiderKind:
    """The row of spider ``name``; a ValueError naming the known ones otherwise."""
    try:
        return SPIDERS[name]
    except KeyError:
        raise ValueError(f"unknown spider {name!r}; expected one of {', '.join(SPIDERS)}") from None
