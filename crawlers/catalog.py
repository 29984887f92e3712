"""What a crawl watches: the TOML file's products and the products added in the web UI / API.

Both become the same ``WatchedProduct`` (a validated ``ProductConfig`` plus its competitor's merged
selectors), so spiders, the Redis queue and the scheduler never know where a product came from.
A web product whose stored spec no longer validates is skipped with a warning naming it (never crashes
the crawl of the others).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from jingshao.crawlers.config import CrawlerInputs, ProductConfig, Selectors
from jingshao.storage.catalog import ManagedProduct, has_web_products, web_products
from jingshao.storage.repository import CatalogEntry, sync_catalog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchedProduct:
    competitor: str
    category: str
    product: ProductConfig
    selectors: dict[str, str]
    managed_by: str  # "file" | "web"
    product_id: int


def web_product_config(row: ManagedProduct) -> tuple[ProductConfig, dict[str, str]]:
    """The ``ProductConfig`` of a web product and its selectors (competitor's, overridden by its own)."""
    spec = {k: v for k, v in row.spec.items() if k not in ("url", "name", "render")}
    prod = ProductConfig.model_validate({**spec, "url": row.url, "name": row.name, "render": row.render})
    merged = Selectors.model_validate(row.competitor_spec.get("selectors") or {}).as_dict()
    if prod.selectors:
        merged.update(prod.selectors.as_dict())
    return prod, merged


def web_watched(db) -> list[WatchedProduct]:
    """The active web-managed products only (no sync of the file's catalog)."""
    with db.session() as s:
        rows = web_products(s)
    return [w for row in rows if (w := _watched(row)) is not None]


def _watched(row: ManagedProduct) -> WatchedProduct | None:
    try:
        prod, sel = web_product_config(row)
    except ValidationError as exc:
        log.warning("web product #%s (%s) skipped: its stored settings are invalid: %s", row.id, row.url, exc)
        return None
    return WatchedProduct(row.competitor, prod.category or row.category, prod, sel, "web", row.id)


def watched_products(config: CrawlerInputs, db) -> list[WatchedProduct]:
    """Every product to crawl, the file's first, each with its database id.

    The file's catalog is written to the database first (products taken out of the file are marked
    removed); a web product whose URL is also in the file is the file's."""
    with db.session() as s:
        ids = sync_catalog(s, catalog_entries(config), complete=True)
        rows = web_products(s)
    out = [
        WatchedProduct(c.name, c.category_for(p), p, c.selectors_for(p), "file", ids[p.url])
        for c in config.competitors
        for p in c.products
    ]
    out.extend(w for row in rows if row.url not in ids and (w := _watched(row)) is not None)
    return out


def catalog_entries(config: CrawlerInputs) -> list[CatalogEntry]:
    return [CatalogEntry(c.name, p.url, p.name, p.render, c.category_for(p)) for c, p, _ in config.iter_products()]


def any_products(config: CrawlerInputs, db=None) -> bool:
    """True when the file or the database (web products) has something to crawl."""
    if any(True for _ in config.iter_products()):
        return True
    if db is None:
        from jingshao.storage.db import DatabaseError, open_database

        try:
            db = open_database(config.database_url)
        except DatabaseError:
            return False
    with db.session() as s:
        return has_web_products(s)
