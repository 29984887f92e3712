"""Reads for the REST API (``/api/v1``): plain frozen dataclasses, never ORM rows.

Lists are paginated with ``limit`` / ``offset`` and return a ``Page`` with the total, ordered by a
unique key so pages never overlap or skip rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, case, exists, func, select
from sqlalchemy.orm import Session

from jingshao.storage.models import (
    Competitor,
    CrawlRun,
    FailedObservation,
    Mention,
    MentionTotal,
    Observation,
    Product,
    Review,
)
from jingshao.storage.queries import read, read_rows
from jingshao.storage.queries.paging import page_statements, read_page

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# Statements built once per shape (which filters a call uses), values bound at execute time.
# Building a list's statement (columns, filters, the count subquery) and then its cache key cost
# ~0.5-0.8 ms a call here, about as much as the whole bare query it runs; a statement built once
# keeps its cache key (SQLAlchemy memoizes it on the instance), so a cached shape costs neither.
_BUILT: dict[Hashable, Any] = {}


def built(key: Hashable, build: Callable[[], T]) -> T:
    """``build()``, made once per ``key`` (a race builds twice and keeps either: same statement)."""
    try:
        return _BUILT[key]
    except KeyError:
        return _BUILT.setdefault(key, build())


def _page(
    session: Session,
    key: Hashable,
    build: Callable[[], Select],
    params: dict[str, Any],
    limit: int,
    offset: int,
    convert,
    count: Callable[[], Select | None] = lambda: None,
) -> Page:
    """One page (and the total) of the statement ``build()`` makes, built once per ``key``; its
    bound parameters come from ``params``; ``count()``, when it gives a statement, reads the total
    (see :func:`page_statements`)."""
    stmts = built(("page", key), lambda: page_statements(build(), count()))
    rows, total = read_page(session, stmts, params, limit, offset)
    return Page([convert(r[:-1]) for r in rows], total, limit, offset)


def filtered(
    stmt: Select,
    equal: tuple[tuple[Any, bool], ...] = (),
    *,
    at_least: tuple[tuple[Any, bool], ...] = (),
    before: tuple[tuple[Any, bool], ...] = (),
) -> Select:
    """``stmt`` with ``column == :eq_i`` for each ``(column, used)`` of ``equal`` that is used,
    ``column >= :ge_i`` for ``at_least`` and ``column < :lt_i`` for ``before``: the filters of a
    list, as bound parameters (:func:`filter_params` gives their values)."""
    for i, (column, used) in enumerate(equal):
        if used:
            stmt = stmt.where(column == bindparam(f"eq_{i}"))
    for i, (column, used) in enumerate(at_least):
        if used:
            stmt = stmt.where(column >= bindparam(f"ge_{i}"))
    for i, (column, used) in enumerate(before):
        if used:
            stmt = stmt.where(column < bindparam(f"lt_{i}"))
    return stmt


def filter_params(
    equal: tuple[Any, ...] = (), *, at_least: tuple[Any, ...] = (), before: tuple[Any, ...] = ()
) -> tuple[tuple[tuple[bool, ...], ...], dict[str, Any]]:
    """(the shape: which filters are used, their bound values) for :func:`filtered`: an ``equal``
    value is used when it is not None or empty, the others when they are not None."""
    params: dict[str, Any] = {}
    shape = []
    for prefix, values, empty in (("eq", equal, ("",)), ("ge", at_least, ()), ("lt", before, ())):
        used = tuple(v is not None and v not in empty for v in values)
        params.update({f"{prefix}_{i}": v for i, (v, u) in enumerate(zip(values, used, strict=True)) if u})
        shape.append(used)
    return tuple(shape), params


def row_select(row_type: type, model: Any) -> Select:
    """The columns of ``model`` named as the fields of the dataclass ``row_type``, in field order
    (plain columns, no ORM objects to build: a list page reads only what it returns)."""
    return select(*(getattr(model, f.name) for f in fields(row_type)))


def row_maker(row_type: type[T], **fix: Callable[[Any], Any]) -> Callable[[Any], T]:
    """A result row of :func:`row_select` as ``row_type``, with ``fix[name]`` applied to that field."""
    names = [f.name for f in fields(row_type)]  # type: ignore[arg-type]
    width = len(names)
    # The fixed fields by position, applied to a list of the row: a generator over every field with
    # a name lookup each cost ~2.4 us a row (13 fields), half of a list page's conversion.
    fixes = [(i, fix[n]) for i, n in enumerate(names) if n in fix]

    def make(row: Any) -> T:
        values = list(row)
        if len(values) != width:
            raise ValueError(f"{row_type.__name__}: {len(values)} columns for {width} fields")
        for i, f in fixes:
            values[i] = f(values[i])
        return row_type(*values)

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
    for cid, name, spec, n, act, files in read(
        session,
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
        .order_by(Competitor.name),
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


# Web-managed competitors: a spec of their own (checked below: an empty JSON object counts as none,
# as in ``competitors``) and no product from the config file. Without the per-competitor counts
# ``competitors`` aggregates over every product, which 监控设置's add form does not show.
_WEB_COMPETITORS = (
    select(Competitor.name, Competitor.spec)
    .where(~exists().where(Product.competitor_id == Competitor.id, Product.managed_by == "file"))
    .order_by(Competitor.name)
)


def web_competitor_names(session: Session) -> list[str]:
    """The names of the competitors whose ``CompetitorRow.managed_by`` is "web", by name."""
    return [name for name, spec in read_rows(session, _WEB_COMPETITORS) if spec]


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
    search = q or None
    params: dict[str, Any] = {"competitor": competitor, "managed_by": managed_by, "q": search}
    params = {k: v for k, v in params.items() if v}
    shape = (tuple(params), status if status in ("active", "paused", "removed") else None, newest_first)

    def build() -> Select:
        stmt = _product_select()
        if competitor:
            stmt = stmt.where(Competitor.name == bindparam("competitor"))
        if status == "active":
            stmt = stmt.where(Product.active.is_(True), Product.removed_at.is_(None))
        elif status == "paused":
            stmt = stmt.where(Product.active.is_(False), Product.removed_at.is_(None))
        elif status == "removed":
            stmt = stmt.where(Product.removed_at.is_not(None))
        if managed_by:
            stmt = stmt.where(Product.managed_by == bindparam("managed_by"))
        if search:
            stmt = stmt.where(Product.name.contains(bindparam("q")) | Product.url.contains(bindparam("q")))
        return stmt.order_by(Product.id.desc() if newest_first else Product.id)

    return _page(session, ("products", shape), build, params, limit, offset, _product_row)


def product(session: Session, product_id: int) -> ProductRow | None:
    stmt = built("product", lambda: _product_select().where(Product.id == bindparam("product_id")))
    row = read(session, stmt, {"product_id": product_id}).first()
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
    shape, params = filter_params(at_least=(since,), before=(until,))

    def build() -> Select:
        stmt = filtered(
            select(*_OBSERVATION_COLUMNS).where(Observation.product_id == bindparam("product_id")),
            at_least=((Observation.last_seen_at, shape[1][0]),),
            before=((Observation.first_seen_at, shape[2][0]),),
        )
        if not include_void:
            stmt = stmt.where(Observation.voided_at.is_(None))
        return stmt.order_by(Observation.first_seen_at, Observation.id)

    params["product_id"] = product_id
    return _page(session, ("observations", shape, include_void), build, params, limit, offset, _obs_row)


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
        for r in read(session, stmt)
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
    shape, params = filter_params((competitor, product_id, label), at_least=(since,), before=(until,))

    def build() -> Select:
        stmt = row_select(ReviewRow, Review)
        if competitor:
            stmt = stmt.join(Product, Review.product_id == Product.id).join(
                Competitor, Product.competitor_id == Competitor.id
            )
        stmt = filtered(
            stmt,
            tuple(zip((Competitor.name, Review.product_id, Review.label), shape[0], strict=True)),
            at_least=((Review.posted_at, shape[1][0]),),
            before=((Review.posted_at, shape[2][0]),),
        )
        return stmt.order_by(Review.id.desc())

    return _page(session, ("reviews", shape), build, params, limit, offset, _REVIEW_ROW)


_REVIEW_ROW = row_maker(ReviewRow, tags=_json_list)


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
    for (tags,) in read(session, stmt):
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
    shape, params = filter_params((brand, source, label), at_least=(min_authority, since), before=(until,))
    by_posted = newest == "posted"

    def build() -> Select:
        stmt = filtered(
            row_select(MentionRow, Mention),
            tuple(zip((Mention.brand, Mention.source, Mention.label), shape[0], strict=True)),
            at_least=tuple(zip((Mention.authority, Mention.posted_at), shape[1], strict=True)),
            before=((Mention.posted_at, shape[2][0]),),
        )
        order = (Mention.posted_at.desc().nulls_last(), Mention.id.desc()) if by_posted else (Mention.id.desc(),)
        return stmt.order_by(*order)

    def count() -> Select | None:
        # Filtered by brand alone: the brand's kept total (mention_totals, migration 0018), not a
        # walk over the brand's whole index range (~0.7 ms for 33,000 mentions, most of the call).
        if shape != _BRAND_ONLY:
            return None
        kept = select(MentionTotal.mentions).where(MentionTotal.brand == bindparam("eq_0")).scalar_subquery()
        return select(func.coalesce(kept, 0))

    return _page(session, ("mentions", shape, by_posted), build, params, limit, offset, _MENTION_ROW, count)


_BRAND_ONLY = ((True, False, False), (False, False), (False,))


_MENTION_ROW = row_maker(MentionRow)


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
    shape, params = filter_params((spider,))

    def build() -> Select:
        stmt = filtered(row_select(CrawlRunRow, CrawlRun), ((CrawlRun.spider, shape[0][0]),))
        return stmt.order_by(CrawlRun.id.desc())

    return _page(session, ("crawl_runs", shape), build, params, limit, offset, _CRAWL_RUN_ROW)


_CRAWL_RUN_ROW = row_maker(CrawlRunRow, errors=_json_list)


@dataclass(frozen=True)
class FailureRow:
    id: int
    product_id: int | None
    url: str
    reason: str
    http_status: int | None
    at: datetime


def failures(session: Session, *, run_id: int | None = None, limit: int = 50, offset: int = 0) -> Page[FailureRow]:
    shape, params = filter_params((run_id,))

    def build() -> Select:
        stmt = filtered(row_select(FailureRow, FailedObservation), ((FailedObservation.crawl_run_id, shape[0][0]),))
        return stmt.order_by(FailedObservation.id.desc())

    return _page(session, ("failures", shape), build, params, limit, offset, _FAILURE_ROW)


_FAILURE_ROW = row_maker(FailureRow)
