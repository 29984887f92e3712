"""The watched catalog: products from the TOML file ("file") beside products added in the web UI / API ("web").

Web-managed products live only in the database: ``products.managed_by = 'web'`` with their config
fields (selectors, variant, quantity, plausibility_factor, category, reviews) in ``products.spec`` and
their competitor's category and selectors in ``competitors.spec``. The crawl runner reads them beside
the file's (``jingshao.crawlers.catalog``). Pausing sets ``active = False``; removing also sets
``removed_at``; neither deletes history. Products from the file cannot be changed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Competitor, Product, utcnow

MANAGED_BY_FILE = "file"
MANAGED_BY_WEB = "web"


class CatalogError(Exception):
    """A catalog change that cannot be made (the message says why, in words for the user)."""


class ReadOnlyProduct(CatalogError):
    """The product is managed by the TOML file."""


@dataclass(frozen=True)
class ManagedProduct:
    """A web-managed product as the crawl runner needs it."""

    id: int
    url: str
    name: str | None
    render: bool
    category: str
    competitor: str
    spec: dict[str, Any]
    competitor_spec: dict[str, Any]


def web_products(session: Session, *, active_only: bool = True) -> list[ManagedProduct]:
    q = (
        select(Product, Competitor)
        .join(Competitor, Product.competitor_id == Competitor.id)
        .where(Product.managed_by == MANAGED_BY_WEB)
        .order_by(Product.id)
    )
    if active_only:
        q = q.where(Product.active.is_(True), Product.removed_at.is_(None))
    return [
        ManagedProduct(p.id, p.url, p.name, bool(p.render), p.category, c.name, dict(p.spec or {}), dict(c.spec or {}))
        for p, c in session.execute(q)
    ]


def has_web_products(session: Session) -> bool:
    q = select(func.count(Product.id)).where(
        Product.managed_by == MANAGED_BY_WEB, Product.active.is_(True), Product.removed_at.is_(None)
    )
    return bool(session.scalar(q))


def ensure_competitor(session: Session, name: str, spec: dict[str, Any] | None = None) -> Competitor:
    comp = session.scalar(select(Competitor).where(Competitor.name == name))
    if comp is None:
        comp = Competitor(name=name, spec=spec or None)
        session.add(comp)
        session.flush()
    elif spec is not None:
        comp.spec = spec or None
    return comp


def add_web_product(
    session: Session,
    *,
    competitor: str,
    url: str,
    name: str | None,
    render: bool,
    category: str,
    spec: dict[str, Any],
) -> Product:
    """Add a product watched from the web UI / API; a product removed earlier comes back with its history."""
    existing = session.scalar(select(Product).where(Product.url == url))
    comp = ensure_competitor(session, competitor)
    if existing is not None:
        if existing.managed_by == MANAGED_BY_FILE and existing.removed_at is None:
            raise ReadOnlyProduct(f"{url} is already watched in the config file (product #{existing.id})")
        if existing.managed_by == MANAGED_BY_WEB and existing.removed_at is None:
            raise CatalogError(f"{url} is already watched (product #{existing.id})")
        prod = existing
    else:
        prod = Product(url=url)
        session.add(prod)
    prod.competitor_id = comp.id
    prod.name = name
    prod.render = render
    prod.category = category
    prod.spec = spec or None
    prod.managed_by = MANAGED_BY_WEB
    prod.active = True
    prod.removed_at = None
    session.flush()
    return prod


def editable(session: Session, product_id: int) -> Product:
    prod = session.get(Product, product_id)
    if prod is None:
        raise LookupError(f"no product #{product_id}")
    if prod.managed_by != MANAGED_BY_WEB:
        raise ReadOnlyProduct(f"product #{product_id} is managed by the config file; change it there")
    return prod


def set_paused(session: Session, product_id: int, paused: bool) -> Product:
    prod = editable(session, product_id)
    if prod.removed_at is not None:
        raise CatalogError(f"product #{product_id} was removed; add its URL again to watch it")
    prod.active = not paused
    return prod


def remove_web_product(session: Session, product_id: int, at: datetime | None = None) -> Product:
    """Stop watching; the product and its history stay (it leaves prices, the report and the rules)."""
    prod = editable(session, product_id)
    prod.active = False
    prod.removed_at = prod.removed_at or at or utcnow()
    return prod
