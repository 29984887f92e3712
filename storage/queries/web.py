"""Reads for the REST API (``/api/v1``): plain frozen dataclasses, never ORM rows.

Lists are paginated with ``limit`` / ``offset`` and return a ``Page`` with the total, ordered by a
unique key so pages never overlap or skip rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from jingshao.storage.models import (
    Competitor,
    CrawlRun,
    FailedObservation,
    Mention,
    Observation,
    Product,
    Review,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def _page(session: Session, q: Select, limit: int, offset: int, convert) -> Page:
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    rows = session.execute(q.limit(limit).offset(offset)).all()
    return Page([convert(r) for r in rows], total, limit, offset)


# ---------------------------------------------------------------- competitors and products


@dataclass(frozen=True)
class CompetitorRow:
    id: int
    name: str
    products: int
    active_products: int
    managed_by: str  # "file" when any of its products is in the file, else "web"
    category: str | None
    selectors: dict[str, str]


def competitors(session: Session) -> list[CompetitorRow]:
    counts = {
        cid: (n, act, files)
        for cid, n, act, files in session.execute(
            select(
                Product.competitor_id,
                func.count(Product.id),
                func.sum(case((Product.active.is_(True) & Product.removed_at.is_(None), 1), else_=0)),
                func.sum(case((Product.managed_by == "file", 1), else_=0)),
            ).group_by(Product.competitor_id)
        )
    }
    out = []
    for c in session.scalars(select(Competitor).order_by(Competitor.name)):
        n, act, files = counts.get(c.id, (0, 0, 0))
        spec = c.spec or {}
        out.append(
            CompetitorRow(
                c.id,
                c.name,
                n,
                int(act or 0),
                "file" if files or not spec else "web",
                spec.get("category"),
                dict(spec.get("selectors") or {}),
            )
        )
    return out


@dataclass(frozen=True)
class ProductRow:
    id: int
    competitor_id: int
    competitor: str
    url: str
    name: str | None
    render: bool
    category: str
    managed_by: str
    status: str  # active | paused | removed
    spec: dict[str, Any]
    created_at: datetime
    removed_at: datetime | None


def _status(p: Product) -> str:
    if p.removed_at is not None:
        return "removed"
    return "active" if p.active else "paused"


def _product_row(row: Any) -> ProductRow:
    p, cname = row
    return ProductRow(
        p.id,
        p.competitor_id,
        cname,
        p.url,
        p.name,
        bool(p.render),
        p.category,
        p.managed_by,
        _status(p),
        dict(p.spec or {}),
        p.created_at,
        p.removed_at,
    )


def products(
    session: Session,
    *,
    competitor: str | None = None,
    status: str | None = "active",
    managed_by: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[ProductRow]:
    stmt = select(Product, Competitor.name).join(Competitor, Product.competitor_id == Competitor.id)
    if competitor:
        stmt = stmt.where(Competitor.name == competitor)
    if status == "active":
        stmt = stmt.where(Product.active.is_(True), Product.removed_at.is_(None))
    elif status == "paused":
        stmt = stmt.where(Product.active.is_(False), Product.removed_at.is_(None))
    elif status == "removed":
        stmt = stmt.where(Product.removed_at.is_not(None))
    if managed_by:
        stmt = stmt.where(Product.managed_by == managed_by)
    if q:
        stmt = stmt.where(Product.name.contains(q) | Product.url.contains(q))
    return _page(session, stmt.order_by(Product.id), limit, offset, _product_row)


def product(session: Session, product_id: int) -> ProductRow | None:
    row = session.execute(
        select(Product, Competitor.name)
        .join(Competitor, Product.competitor_id == Competitor.id)
        .where(Product.id == product_id)
    ).first()
    return _product_row(row) if row else None


# ---------------------------------------------------------------- observations and the price table


@dataclass(frozen=True)
class ObservationRow:
    id: int
    product_id: int
    first_seen_at: datetime
    last_seen_at: datetime
    title: str | None
    price: Decimal | None
    final_price: Decimal | None
    original_price: Decimal | None
    currency: str | None
    availability: str | None
    promo: str | None
    price_is_range: bool
    status: str  # ok | suspect | void
    sources: dict[str, Any]
    voided_by: str | None
    void_reason: str | None


def _obs_row(row: Any) -> ObservationRow:
    (o,) = row
    return ObservationRow(
        o.id,
        o.product_id,
        o.first_seen_at,
        o.last_seen_at,
        o.title,
        o.price,
        o.final_price,
        o.original_price,
        o.currency,
        o.availability,
        o.promo,
        bool(o.price_is_range),
        "void" if o.voided_at is not None else o.status,
        dict(o.sources or {}),
        o.voided_by,
        o.void_reason,
    )


def observations(
    session: Session,
    product_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    include_void: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> Page[ObservationRow]:
    """A product's observations in time order; ``since`` / ``until`` select by when a value was seen
    (an observation first seen before ``since`` but still seen after it is included)."""
    stmt = select(Observation).where(Observation.product_id == product_id)
    if since is not None:
        stmt = stmt.where(Observation.last_seen_at >= since)
    if until is not None:
        stmt = stmt.where(Observation.first_seen_at < until)
    if not include_void:
        stmt = stmt.where(Observation.voided_at.is_(None))
    return _page(session, stmt.order_by(Observation.first_seen_at, Observation.id), limit, offset, _obs_row)


@dataclass(frozen=True)
class PriceTableRow:
    product_id: int
    competitor: str
    product: str
    url: str
    managed_by: str
    observation_id: int | None
    seen_at: datetime | None
    price: Decimal | None
    final_price: Decimal | None
    original_price: Decimal | None
    currency: str | None
    availability: str | None
    promo: str | None
    suspect: bool


def price_table(session: Session, *, competitor: str | None = None) -> list[PriceTableRow]:
    """Every watched (active) product with its latest confirmed, not voided observation."""
    latest = (
        select(Observation.product_id, func.max(Observation.id).label("oid"))
        .where(Observation.voided_at.is_(None))
        .group_by(Observation.product_id)
        .subquery()
    )
    stmt = (
        select(Product, Competitor.name, Observation)
        .join(Competitor, Product.competitor_id == Competitor.id)
        .outerjoin(latest, latest.c.product_id == Product.id)
        .outerjoin(Observation, Observation.id == latest.c.oid)
        .where(Product.active.is_(True), Product.removed_at.is_(None))
        .order_by(Competitor.name, Product.id)
    )
    if competitor:
        stmt = stmt.where(Competitor.name == competitor)
    out = []
    for p, cname, o in session.execute(stmt):
        out.append(
            PriceTableRow(
                p.id,
                cname,
                p.name or (o.title if o else None) or p.url,
                p.url,
                p.managed_by,
                o.id if o else None,
                o.last_seen_at if o else None,
                o.price if o else None,
                o.final_price if o else None,
                o.original_price if o else None,
                o.currency if o else None,
                o.availability if o else None,
                o.promo if o else None,
                bool(o and o.status == "suspect"),
            )
        )
    return out


# ---------------------------------------------------------------- reviews, tags, mentions


@dataclass(frozen=True)
class ReviewRow:
    id: int
    product_id: int
    rating: int | None
    text: str
    posted_at: datetime | None
    variant: str | None
    sentiment: float | None
    label: str | None
    tags: list[dict[str, Any]]


def reviews(
    session: Session,
    *,
    product_id: int | None = None,
    competitor: str | None = None,
    label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[ReviewRow]:
    stmt = select(Review)
    if competitor:
        stmt = stmt.join(Product, Review.product_id == Product.id).join(
            Competitor, Product.competitor_id == Competitor.id
        )
        stmt = stmt.where(Competitor.name == competitor)
    if product_id is not None:
        stmt = stmt.where(Review.product_id == product_id)
    if label:
        stmt = stmt.where(Review.label == label)
    if since is not None:
        stmt = stmt.where(Review.posted_at >= since)
    if until is not None:
        stmt = stmt.where(Review.posted_at < until)

    def convert(row: Any) -> ReviewRow:
        (r,) = row
        return ReviewRow(
            r.id, r.product_id, r.rating, r.text, r.posted_at, r.variant, r.sentiment, r.label, list(r.tags or [])
        )

    return _page(session, stmt.order_by(Review.id.desc()), limit, offset, convert)


@dataclass(frozen=True)
class TagCount:
    aspect: str
    opinion: str
    polarity: str
    count: int


def tag_counts(
    session: Session, *, product_id: int | None = None, competitor: str | None = None, limit: int = 50
) -> list[TagCount]:
    """Preference tags (aspect, opinion, polarity) over the selected reviews, most frequent first."""
    stmt = select(Review.tags).where(Review.tags.is_not(None))
    if competitor:
        stmt = stmt.join(Product, Review.product_id == Product.id).join(
            Competitor, Product.competitor_id == Competitor.id
        )
        stmt = stmt.where(Competitor.name == competitor)
    if product_id is not None:
        stmt = stmt.where(Review.product_id == product_id)
    counter: Counter[tuple[str, str, str]] = Counter()
    for (tags,) in session.execute(stmt):
        for t in tags or []:
            counter[(str(t.get("aspect", "")), str(t.get("opinion", "")), str(t.get("polarity", "")))] += 1
    return [TagCount(a, o, p, n) for (a, o, p), n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]


@dataclass(frozen=True)
class MentionRow:
    id: int
    brand: str
    source: str
    authority: int
    url: str
    title: str | None
    text: str
    author: str | None
    posted_at: datetime | None
    sentiment: float | None
    negative_prob: float | None
    label: str | None


def mentions(
    session: Session,
    *,
    brand: str | None = None,
    source: str | None = None,
    label: str | None = None,
    min_authority: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[MentionRow]:
    stmt = select(Mention)
    if brand:
        stmt = stmt.where(Mention.brand == brand)
    if source:
        stmt = stmt.where(Mention.source == source)
    if label:
        stmt = stmt.where(Mention.label == label)
    if min_authority is not None:
        stmt = stmt.where(Mention.authority >= min_authority)
    if since is not None:
        stmt = stmt.where(Mention.posted_at >= since)
    if until is not None:
        stmt = stmt.where(Mention.posted_at < until)

    def convert(row: Any) -> MentionRow:
        (m,) = row
        return MentionRow(
            m.id,
            m.brand,
            m.source,
            m.authority,
            m.url,
            m.title,
            m.text,
            m.author,
            m.posted_at,
            m.sentiment,
            m.negative_prob,
            m.label,
        )

    return _page(session, stmt.order_by(Mention.id.desc()), limit, offset, convert)


# ---------------------------------------------------------------- crawl runs


@dataclass(frozen=True)
class CrawlRunRow:
    id: int
    spider: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    pages: int
    changes: int
    unchanged: int
    failures: int
    errors: list[str]


def crawl_runs(session: Session, *, spider: str | None = None, limit: int = 50, offset: int = 0) -> Page[CrawlRunRow]:
    stmt = select(CrawlRun)
    if spider:
        stmt = stmt.where(CrawlRun.spider == spider)

    def convert(row: Any) -> CrawlRunRow:
        (r,) = row
        return CrawlRunRow(
            r.id,
            r.spider,
            r.status,
            r.started_at,
            r.finished_at,
            r.pages,
            r.changes,
            r.unchanged,
            r.failures,
            list(r.errors or []),
        )

    return _page(session, stmt.order_by(CrawlRun.id.desc()), limit, offset, convert)


@dataclass(frozen=True)
class FailureRow:
    id: int
    product_id: int | None
    url: str
    reason: str
    http_status: int | None
    at: datetime


def failures(session: Session, *, run_id: int | None = None, limit: int = 50, offset: int = 0) -> Page[FailureRow]:
    stmt = select(FailedObservation)
    if run_id is not None:
        stmt = stmt.where(FailedObservation.crawl_run_id == run_id)

    def convert(row: Any) -> FailureRow:
        (f,) = row
        return FailureRow(f.id, f.product_id, f.url, f.reason, f.http_status, f.at)

    return _page(session, stmt.order_by(FailedObservation.id.desc()), limit, offset, convert)
