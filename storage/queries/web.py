"""Reads for the REST API (``/api/v1``): plain frozen dataclasses, never ORM rows.

Lists are paginated with ``limit`` / ``offset`` and return a ``Page`` with the total, ordered by a
unique key so pages never overlap or skip rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields
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
    """One page of ``q`` and the total: the count rides along as an uncorrelated scalar subquery
    (the database runs it once), so a page is one statement; only a page past the end needs the
    count on its own."""
    count = select(func.count()).select_from(q.order_by(None).correlate(None).subquery()).correlate(None)
    rows = session.execute(q.add_columns(count.scalar_subquery().label("page_total")).limit(limit).offset(offset)).all()
    if rows:
        total = rows[0][-1]
    else:
        total = (session.scalar(count) or 0) if offset else 0
    return Page([convert(r[:-1]) for r in rows], total, limit, offset)


def filtered(
    stmt: Select,
    equal: tuple[tuple[Any, Any], ...] = (),
    *,
    at_least: tuple[tuple[Any, Any], ...] = (),
    before: tuple[tuple[Any, Any], ...] = (),
) -> Select:
    """``stmt`` with ``column == value`` for each given (not None, not empty) value of ``equal``,
    ``column >= value`` for ``at_least`` and ``column < value`` for ``before``: the filters of a list."""
    for column, value in equal:
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    for column, value in at_least:
        if value is not None:
            stmt = stmt.where(column >= value)
    for column, value in before:
        if value is not None:
            stmt = stmt.where(column < value)
    return stmt


def row_select(row_type: type, model: Any) -> Select:
    """The columns of ``model`` named as the fields of the dataclass ``row_type``, in field order
    (plain columns, no ORM objects to build: a list page reads only what it returns)."""
    return select(*(getattr(model, f.name) for f in fields(row_type)))


def row_maker(row_type: type[T], **fix: Callable[[Any], Any]) -> Callable[[Any], T]:
    """A result row of :func:`row_select` as ``row_type``, with ``fix[name]`` applied to that field."""
    names = [f.name for f in fields(row_type)]  # type: ignore[arg-type]

    def make(row: Any) -> T:
        return row_type(*(fix[n](v) if n in fix else v for n, v in zip(names, row, strict=True)))

    return make


def _json_list(value: Any) -> list[Any]:
    return list(value or [])


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
    """Every competitor with its product counts: one statement of plain columns (no ORM objects)."""
    out = []
    for cid, name, spec, n, act, files in session.execute(
        select(
            Competitor.id,
            Competitor.name,
            Competitor.spec,
            func.count(Product.id),
            func.sum(case((Product.active.is_(True) & Product.removed_at.is_(None), 1), else_=0)),
            func.sum(case((Product.managed_by == "file", 1), else_=0)),
        )
        .outerjoin(Product, Product.competitor_id == Competitor.id)
        .group_by(Competitor.id)
        .order_by(Competitor.name)
    ):
        spec = spec or {}
        out.append(
            CompetitorRow(
                cid,
                name,
                n or 0,
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


def _status(active: bool, removed_at: datetime | None) -> str:
    if removed_at is not None:
        return "removed"
    return "active" if active else "paused"


_PRODUCT_COLUMNS = (
    Product.id,
    Product.competitor_id,
    Competitor.name,
    Product.url,
    Product.name,
    Product.render,
    Product.category,
    Product.managed_by,
    Product.active,
    Product.spec,
    Product.created_at,
    Product.removed_at,
)


def _product_select() -> Select:
    """``_PRODUCT_COLUMNS``: plain columns of a product and its competitor's name (no ORM objects)."""
    return select(*_PRODUCT_COLUMNS).join(Competitor, Product.competitor_id == Competitor.id)


def _product_row(row: Any) -> ProductRow:
    pid, cid, cname, url, name, render, category, managed_by, active, spec, created_at, removed_at = row
    return ProductRow(
        pid,
        cid,
        cname,
        url,
        name,
        bool(render),
        category,
        managed_by,
        _status(active, removed_at),
        dict(spec or {}),
        created_at,
        removed_at,
    )


def products(
    session: Session,
    *,
    competitor: str | None = None,
    status: str | None = "active",
    managed_by: str | None = None,
    q: str | None = None,
    newest_first: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> Page[ProductRow]:
    stmt = _product_select()
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
    order = Product.id.desc() if newest_first else Product.id
    return _page(session, stmt.order_by(order), limit, offset, _product_row)


def product(session: Session, product_id: int) -> ProductRow | None:
    row = session.execute(_product_select().where(Product.id == product_id)).first()
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


_OBSERVATION_COLUMNS = (
    Observation.id,
    Observation.product_id,
    Observation.first_seen_at,
    Observation.last_seen_at,
    Observation.title,
    Observation.price,
    Observation.final_price,
    Observation.original_price,
    Observation.currency,
    Observation.availability,
    Observation.promo,
    Observation.price_is_range,
    Observation.status,
    Observation.voided_at,
    Observation.sources,
    Observation.voided_by,
    Observation.void_reason,
)


def _obs_row(row: Any) -> ObservationRow:
    """A row of ``_OBSERVATION_COLUMNS`` as the API shows it (the first eleven columns as they are)."""
    *head, price_is_range, status, voided_at, sources, voided_by, void_reason = row
    fixed = [bool(price_is_range), "void" if voided_at is not None else status, dict(sources or {}), voided_by]
    return ObservationRow(*[*head, *fixed, void_reason])


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
    stmt = select(*_OBSERVATION_COLUMNS).where(Observation.product_id == product_id)
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
    """Every watched (active) product with its latest not voided observation (suspect ones flagged).

    Plain columns (no ORM objects) and, per product, one index seek for its newest observation on
    ``ix_observations_product_seen``: a GROUP BY over all observations read every row instead.
    """
    latest = (
        select(Observation.id)
        .where(Observation.product_id == Product.id, Observation.voided_at.is_(None))
        .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )
    stmt = (
        select(
            Product.id,
            Competitor.name,
            Product.name,
            Observation.title,
            Product.url,
            Product.managed_by,
            Observation.id,
            Observation.last_seen_at,
            Observation.price,
            Observation.final_price,
            Observation.original_price,
            Observation.currency,
            Observation.availability,
            Observation.promo,
            Observation.status,
        )
        .join(Competitor, Product.competitor_id == Competitor.id)
        .outerjoin(Observation, Observation.id == latest)
        .where(Product.active.is_(True), Product.removed_at.is_(None))
        .order_by(Competitor.name, Product.id)
    )
    if competitor:
        stmt = stmt.where(Competitor.name == competitor)
    return [
        PriceTableRow(
            r.id,
            r.name,
            r.name_1 or r.title or r.url,
            r.url,
            r.managed_by,
            r.id_1,
            r.last_seen_at,
            r.price,
            r.final_price,
            r.original_price,
            r.currency,
            r.availability,
            r.promo,
            r.status == "suspect",
        )
        for r in session.execute(stmt)
    ]


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
    stmt = row_select(ReviewRow, Review)
    if competitor:
        stmt = stmt.join(Product, Review.product_id == Product.id).join(
            Competitor, Product.competitor_id == Competitor.id
        )
    stmt = filtered(
        stmt,
        ((Competitor.name, competitor), (Review.product_id, product_id), (Review.label, label)),
        at_least=((Review.posted_at, since),),
        before=((Review.posted_at, until),),
    )
    return _page(session, stmt.order_by(Review.id.desc()), limit, offset, row_maker(ReviewRow, tags=_json_list))


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
    newest: str = "stored",
    limit: int = 50,
    offset: int = 0,
) -> Page[MentionRow]:
    """A brand's (or all) mentions, filtered; newest stored first, or with ``newest="posted"`` newest
    posted first (the dashboard's evidence list; unknown posting times last)."""
    stmt = filtered(
        row_select(MentionRow, Mention),
        ((Mention.brand, brand), (Mention.source, source), (Mention.label, label)),
        at_least=((Mention.authority, min_authority), (Mention.posted_at, since)),
        before=((Mention.posted_at, until),),
    )
    order = (Mention.posted_at.desc().nulls_last(), Mention.id.desc()) if newest == "posted" else (Mention.id.desc(),)
    return _page(session, stmt.order_by(*order), limit, offset, row_maker(MentionRow))


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
    stmt = filtered(row_select(CrawlRunRow, CrawlRun), ((CrawlRun.spider, spider),))
    return _page(session, stmt.order_by(CrawlRun.id.desc()), limit, offset, row_maker(CrawlRunRow, errors=_json_list))


@dataclass(frozen=True)
class FailureRow:
    id: int
    product_id: int | None
    url: str
    reason: str
    http_status: int | None
    at: datetime


def failures(session: Session, *, run_id: int | None = None, limit: int = 50, offset: int = 0) -> Page[FailureRow]:
    stmt = filtered(row_select(FailureRow, FailedObservation), ((FailedObservation.crawl_run_id, run_id),))
    return _page(session, stmt.order_by(FailedObservation.id.desc()), limit, offset, row_maker(FailureRow))
