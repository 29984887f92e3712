"""Reads for the dashboard's server-rendered pages (web/pages.py).

Every function takes a `Session` inside a transaction and plain arguments and returns frozen
dataclasses, never ORM rows. Aggregates are done in SQL where the row counts grow with data
(mentions, reviews); per-product history is small and returned as rows.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Select, bindparam, case, func, select
from sqlalchemy.orm import Session, aliased

from jingshao.storage.models import (
    AdlawHit,
    Alert,
    Competitor,
    CrawlCompetitorOutcome,
    CrawlRun,
    FailedObservation,
    Mention,
    Observation,
    Product,
    Review,
)
from jingshao.storage.queries import read, read_rows

CONFIRMED = (Observation.voided_at.is_(None), Observation.status == "ok")


# ---------------------------------------------------------------- prices


@dataclass(frozen=True)
class PriceRow:
    product_id: int
    competitor: str
    name: str
    url: str
    active: bool
    price: Decimal | None
    final_price: Decimal | None
    original_price: Decimal | None
    currency: str | None
    availability: str | None
    in_stock: bool | None
    promo: str | None
    seen_at: datetime | None
    price_1d: Decimal | None
    price_7d: Decimal | None

    @staticmethod
    def _pct(now: Decimal | None, then: Decimal | None) -> float | None:
        if now is None or then is None or not then:
            return None
        return float((now - then) / then * 100)

    @property
    def change_1d(self) -> float | None:
        return self._pct(self.price, self.price_1d)

    @property
    def change_7d(self) -> float | None:
        return self._pct(self.price, self.price_7d)


def _latest(column: Any, before: Any) -> Any:
    """Correlated to `Product`: `column` of its newest confirmed observation first seen before `before`
    (a datetime, a bound parameter, or None for no bound).

    One index seek per product on ``ix_observations_product_seen`` (product_id, first_seen_at); a
    window function over the whole table or a GROUP BY would read every observation instead.
    """
    q = select(column).where(Observation.product_id == Product.id, *CONFIRMED)
    if before is not None:
        q = q.where(Observation.first_seen_at < before)
    return (
        q.order_by(Observation.first_seen_at.desc(), Observation.id.desc())
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )


def _latest_id(before: datetime | None) -> Any:
    return _latest(Observation.id, before)


_PRICES_BEFORE = select(Product.id, _latest(Observation.price, bindparam("before"))).where(
    Product.id.in_(bindparam("ids", expanding=True))
)  # built once: each product's confirmed price in force before a bound time


def _prices_before(session: Session, before: datetime, product_ids: list[int]) -> dict[int, Decimal | None]:
    if not product_ids:
        return {}
    out: dict[int, Decimal | None] = {}
    for start in range(0, len(product_ids), 5000):
        chunk = product_ids[start : start + 5000]
        out.update(read(session, _PRICES_BEFORE, {"before": before, "ids": chunk}).all())
    return out


def price_table(session: Session, now: datetime, *, include_inactive: bool = False) -> list[PriceRow]:
    """Every watched product with its current confirmed observation and its price 1 and 7 days ago
    (one statement: the current row joined by id, the two older prices as correlated subqueries)."""
    q = (
        select(
            Product.id,
            Competitor.name,
            Product.name,
            Product.url,
            Product.active,
            Observation.price,
            Observation.final_price,
            Observation.original_price,
            Observation.currency,
            Observation.availability,
            Observation.in_stock,
            Observation.promo,
            Observation.last_seen_at,
            Observation.title,
            _latest(Observation.price, now - timedelta(days=1)),
            _latest(Observation.price, now - timedelta(days=7)),
        )
        .join(Competitor, Product.competitor_id == Competitor.id)
        .outerjoin(Observation, Observation.id == _latest_id(now + timedelta(seconds=1)))
        .order_by(Competitor.name, Product.id)
    )
    if not include_inactive:
        q = q.where(Product.active.is_(True))
    return [
        PriceRow(
            pid,
            comp,
            name or title or url,
            url,
            active,
            price,
            final,
            orig,
            currency,
            avail,
            in_stock,
            promo,
            seen,
            p1,
            p7,
        )
        for pid, comp, name, url, active, price, final, orig, currency, avail, in_stock, promo, seen, title, p1, p7 in (
            read(session, q).all()
        )
    ]


@dataclass(frozen=True)
class ObservationRow:
    id: int
    first_seen_at: datetime
    last_seen_at: datetime
    title: str | None
    price: Decimal | None
    original_price: Decimal | None
    final_price: Decimal | None
    currency: str | None
    availability: str | None
    promo: str | None
    status: str
    voided_at: datetime | None
    voided_by: str | None
    void_reason: str | None

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None

    @property
    def is_suspect(self) -> bool:
        return self.status != "ok" and not self.is_void


@dataclass(frozen=True)
class ProductInfo:
    id: int
    competitor_id: int
    competitor: str
    name: str
    url: str
    render: bool
    active: bool
    category: str


@dataclass(frozen=True)
class FailureRow:
    at: datetime
    url: str
    reason: str
    http_status: int | None


@dataclass(frozen=True)
class ProductHistory:
    product: ProductInfo
    observations: list[ObservationRow]  # oldest first: the one before `since` (if any) and all after
    failures: list[FailureRow]
    adlaw: list[tuple[str, str, str]]  # (field, word, context) of the latest observation
    sources: dict[str, Any]  # how each field of the latest observation was extracted


# The product page's statements, built once with bound parameters: building a select (coercing
# its columns and clauses) cost as much as running it on these small per-product reads.
_PRODUCT_INFO = (
    select(
        Product.id,
        Product.competitor_id,
        Competitor.name,
        Product.name,
        Product.url,
        Product.render,
        Product.active,
        Product.category,
    )
    .join(Competitor, Product.competitor_id == Competitor.id)
    .where(Product.id == bindparam("pid"))
)
_HISTORY_COLUMNS = (
    Observation.id,
    Observation.first_seen_at,
    Observation.last_seen_at,
    Observation.title,
    Observation.price,
    Observation.original_price,
    Observation.final_price,
    Observation.currency,
    Observation.availability,
    Observation.promo,
    Observation.status,
    Observation.voided_at,
    Observation.voided_by,
    Observation.void_reason,
)  # not `sources`: the page shows the latest observation's only (a JSON decode a row, ~15% of the read)
_HISTORY_BEFORE = (
    select(*_HISTORY_COLUMNS)
    .where(Observation.product_id == bindparam("pid"), Observation.first_seen_at < bindparam("since"), *CONFIRMED)
    .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
    .limit(1)
)
_HISTORY_AFTER = (
    select(*_HISTORY_COLUMNS)
    .where(Observation.product_id == bindparam("pid"), Observation.first_seen_at >= bindparam("since"))
    .order_by(Observation.first_seen_at, Observation.id)
)
_HISTORY_FAILURES = (
    select(FailedObservation.at, FailedObservation.url, FailedObservation.reason, FailedObservation.http_status)
    .where(FailedObservation.product_id == bindparam("pid"))
    .order_by(FailedObservation.at.desc())
    .limit(10)
)
_HISTORY_ADLAW = select(AdlawHit.field, AdlawHit.word, AdlawHit.context).where(
    AdlawHit.observation_id == bindparam("oid")
)
_HISTORY_SOURCES = select(Observation.sources).where(Observation.id == bindparam("oid"))
_CONFIRMED_PRICES_BEFORE = (
    select(Observation.price)
    .where(
        Observation.product_id == bindparam("pid"),
        Observation.first_seen_at < bindparam("before"),
        Observation.price.is_not(None),
        *CONFIRMED,
    )
    .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
    .limit(bindparam("n", type_=Integer))
)


def product_info(session: Session, product_id: int) -> ProductInfo | None:
    rows = read_rows(session, _PRODUCT_INFO, {"pid": product_id})
    if not rows:
        return None
    pid, cid, comp, name, url, render, active, category = rows[0]
    return ProductInfo(pid, cid, comp, name or url, url, render, active, category)


def product_history(session: Session, product_id: int, since: datetime) -> ProductHistory | None:
    """A product's observations since `since` (voided and suspect ones included, marked), plus the
    confirmed one in force at `since` so a chart starts at the price that held then."""
    info = product_info(session, product_id)
    if info is None:
        return None
    params = {"pid": product_id, "since": since}
    before = read_rows(session, _HISTORY_BEFORE, params)
    after = read_rows(session, _HISTORY_AFTER, params)
    obs = [ObservationRow(*c) for c in [*before, *after]]
    failures = [FailureRow(*r) for r in read_rows(session, _HISTORY_FAILURES, params)]
    adlaw: list[tuple[str, str, str]] = []
    sources: dict[str, Any] = {}
    latest = next((o for o in reversed(obs) if not o.is_void), None)
    if latest is not None:
        adlaw = [(f, w, c) for f, w, c in read_rows(session, _HISTORY_ADLAW, {"oid": latest.id})]
        found = read_rows(session, _HISTORY_SOURCES, {"oid": latest.id})
        sources = (found[0][0] if found else None) or {}
    if latest is not None and latest.title and info.name == info.url:  # no configured name: the page's title
        info = replace(info, name=latest.title)
    return ProductHistory(info, obs, failures, adlaw, sources)


def confirmed_prices_before(session: Session, product_id: int, before: datetime, limit: int) -> list[Decimal]:
    """The last `limit` confirmed prices first seen before `before`, oldest first (anomaly baseline)."""
    rows = read_rows(session, _CONFIRMED_PRICES_BEFORE, {"pid": product_id, "before": before, "n": limit})
    return [p for (p,) in reversed(rows) if p is not None]  # None is filtered out above already


def product_product_id_of_observation(session: Session, observation_id: int) -> int | None:
    return read(session, select(Observation.product_id).where(Observation.id == observation_id)).scalar()


# ---------------------------------------------------------------- overview


@dataclass(frozen=True)
class OverviewCounts:
    price_changes: int
    promo_changes: int
    stock_outs: int
    new_reviews: int
    mentions: int
    negative_mentions: int
    open_alerts: dict[str, int]

    @property
    def negative_share(self) -> float | None:
        return self.negative_mentions / self.mentions if self.mentions else None


@dataclass(frozen=True)
class ChangeRow:
    product_id: int
    competitor: str
    name: str
    at: datetime
    old_price: Decimal | None
    new_price: Decimal | None
    old_promo: str | None
    new_promo: str | None
    old_availability: str | None
    new_availability: str | None


def _changes(since: datetime) -> tuple[Any, Any]:
    """Confirmed observations of watched products first seen since `since`, each joined to the
    confirmed one before it (found by an index seek per change); and that previous row's alias."""
    prev = aliased(Observation)
    prev_id = (
        select(prev.id)
        .where(
            prev.product_id == Observation.product_id,
            prev.first_seen_at < Observation.first_seen_at,
            prev.voided_at.is_(None),
            prev.status == "ok",
        )
        .order_by(prev.first_seen_at.desc(), prev.id.desc())
        .limit(1)
        .correlate(Observation)
        .scalar_subquery()
    )
    old = aliased(Observation)
    stmt = (
        select(Observation.id)
        .join(Product, Product.id == Observation.product_id)
        .join(old, old.id == prev_id)
        .where(Observation.first_seen_at >= since, *CONFIRMED, Product.active.is_(True))
    )
    return stmt, old


def changes_since(session: Session, since: datetime, limit: int | None = None) -> list[ChangeRow]:
    """The changes since `since` (see :func:`_changes`), newest first, at most `limit` of them."""
    base, old = _changes(since)
    stmt = (
        base.with_only_columns(
            Observation.product_id,
            Competitor.name,
            Product.name,
            Product.url,
            Observation.first_seen_at,
            old.price,
            Observation.price,
            old.promo,
            Observation.promo,
            old.availability,
            Observation.availability,
        )
        .join(Competitor, Competitor.id == Product.competitor_id)
        .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
        .limit(limit)
    )
    return [ChangeRow(pid, comp, name or url, *rest) for pid, comp, name, url, *rest in read(session, stmt).all()]


@dataclass(frozen=True)
class ChangeSummary:
    total: int  # changes since the start given
    price: int  # of those first seen since `today`: price moves,
    promo: int  # promo copy changes,
    stock_outs: int  # and items newly out of stock


def change_summary(session: Session, since: datetime, today: datetime) -> ChangeSummary:
    """Counted in SQL, so the overview fetches only the changes it lists (the same rows as
    :func:`changes_since`; a NULL on either side counts as a difference, as in Python)."""
    base, old = _changes(since)
    recent = Observation.first_seen_at >= today
    promo_old, promo_new = func.nullif(old.promo, ""), func.nullif(Observation.promo, "")
    out_now = (Observation.availability == "OutOfStock") & old.availability.is_distinct_from("OutOfStock")
    row = read(
        session,
        base.with_only_columns(
            func.count(),
            func.sum(case((recent & old.price.is_distinct_from(Observation.price), 1), else_=0)),
            func.sum(case((recent & promo_old.is_distinct_from(promo_new), 1), else_=0)),
            func.sum(case((recent & out_now, 1), else_=0)),
        ),
    ).one()
    return ChangeSummary(*(int(v or 0) for v in row))


def overview_counts(session: Session, start: datetime, end: datetime, changes: ChangeSummary) -> OverviewCounts:
    new_reviews = read(
        session,
        select(func.count()).select_from(Review).where(Review.first_seen_at >= start, Review.first_seen_at < end),
    ).scalar()
    n, neg = read(
        session,
        select(func.count(), func.coalesce(func.sum(case((Mention.label == "neg", 1), else_=0)), 0)).where(
            Mention.posted_at >= start, Mention.posted_at < end
        ),
    ).one()
    levels = dict(
        read(session, select(Alert.level, func.count()).where(Alert.state == "firing").group_by(Alert.level)).all()
    )
    return OverviewCounts(
        changes.price, changes.promo, changes.stock_outs, new_reviews or 0, n or 0, int(neg or 0), levels
    )


# ---------------------------------------------------------------- reviews


@dataclass(frozen=True)
class ReviewBucket:
    start: datetime
    reviews: int
    positive: int
    negative: int
    mean_sentiment: float | None


@functools.cache
def _review_products_stmt(scope: str) -> Select:
    """The statement of ``review_products`` for a scope (``all``, ``competitor``: bound ``name``,
    ``product``: bound ``pid``), built once: building it cost as much as running it."""
    counts_q = select(Review.product_id.label("pid"), func.count().label("n")).group_by(Review.product_id)
    if scope == "competitor":
        counts_q = counts_q.where(
            Review.product_id.in_(
                select(Product.id)
                .join(Competitor, Product.competitor_id == Competitor.id)
                .where(Competitor.name == bindparam("name"))
            )
        )
    elif scope == "product":
        # The product's competitor in the same statement; an unknown product scopes nothing (all products).
        owner = select(Product.competitor_id).where(Product.id == bindparam("pid")).scalar_subquery()
        sibling = aliased(Product)
        counts_q = counts_q.where(
            Review.product_id.in_(
                select(sibling.id).where(sibling.competitor_id == func.coalesce(owner, sibling.competitor_id))
            )
        )
    counts = counts_q.subquery()  # one pass over the (product_id, posted_at) index, then a join per product
    return (
        select(Product.id, Competitor.name, Product.name, Product.url, counts.c.n)
        .join(counts, counts.c.pid == Product.id)
        .join(Competitor, Product.competitor_id == Competitor.id)
        .where(Product.active.is_(True))
        .order_by(counts.c.n.desc(), Product.id)
    )


def review_products(
    session: Session, competitor: str | None = None, *, product: int | None = None
) -> list[tuple[int, str, str, int]]:
    """(product id, competitor, name, review count) of products that have reviews, most reviewed first
    (only `competitor`'s when given, else those of `product`'s competitor when that product exists:
    its products' index ranges instead of every review)."""
    if competitor:
        rows = read_rows(session, _review_products_stmt("competitor"), {"name": competitor})
    elif product:
        rows = read_rows(session, _review_products_stmt("product"), {"pid": product})
    else:
        rows = read_rows(session, _review_products_stmt("all"))
    return [(pid, comp, name or url, n) for pid, comp, name, url, n in rows]


# Competitors with at least one watched product that has reviews: one EXISTS per competitor,
# which stops at its first reviewed product (not a probe of every product, then DISTINCT).
_REVIEWED_COMPETITORS = (
    select(Competitor.name)
    .where(
        select(Review.id)
        .join(Product, Review.product_id == Product.id)
        .where(Product.competitor_id == Competitor.id, Product.active.is_(True))
        .exists()
    )
    .order_by(Competitor.name)
)


def reviewed_competitors(session: Session) -> list[str]:
    """Competitors with at least one watched product that has reviews, by name."""
    return [name for (name,) in read_rows(session, _REVIEWED_COMPETITORS)]


_posted_or_seen = func.coalesce(Review.posted_at, Review.first_seen_at)  # when a review was written


@functools.cache
def _review_weeks_stmt(count: int) -> Select:
    """Per-bucket counts for ``count`` buckets between bound edges ``w0`` < ... < ``w{count}`` of
    the bound product ``ids`` (built once per bucket count)."""
    edge: list[Any] = [bindparam(f"w{i}") for i in range(count + 1)]
    bucket = case(*[(_posted_or_seen < edge[i + 1], i) for i in range(count)], else_=None)
    return (
        select(
            bucket.label("b"),
            func.count(),
            func.sum(case((Review.label == "pos", 1), else_=0)),
            func.sum(case((Review.label == "neg", 1), else_=0)),
            func.avg(Review.sentiment),
        )
        .where(
            Review.product_id.in_(bindparam("ids", expanding=True)),
            _posted_or_seen >= edge[0],
            _posted_or_seen < edge[-1],
        )
        .group_by("b")
    )


def review_weeks(session: Session, product_ids: list[int], weeks: list[datetime]) -> list[ReviewBucket]:
    """Per week (starts given, ascending; each runs to the next, the last for 7 days) of posting time."""
    out = []
    bounds = [*weeks, weeks[-1] + timedelta(days=7)]
    params: dict[str, Any] = {f"w{i}": b for i, b in enumerate(bounds)}
    params["ids"] = list(product_ids)
    rows = {b: (n, p, ng, m) for b, n, p, ng, m in read(session, _review_weeks_stmt(len(weeks)), params)}
    for i, start in enumerate(weeks):
        n, p, ng, m = rows.get(i, (0, 0, 0, None))
        out.append(ReviewBucket(start, n or 0, int(p or 0), int(ng or 0), None if m is None else float(m)))
    return out


@dataclass(frozen=True)
class ReviewText:
    product_id: int
    text: str
    tags: list[dict[str, Any]]
    sentiment: float | None
    at: datetime


_TAGGED_REVIEWS = (
    select(Review.product_id, Review.text, Review.tags, Review.sentiment, _posted_or_seen)
    .where(
        Review.product_id.in_(bindparam("ids", expanding=True)),
        _posted_or_seen >= bindparam("start"),
        _posted_or_seen < bindparam("end"),
        Review.tags.is_not(None),
    )
    .order_by(Review.id)
)


def tagged_reviews(session: Session, product_ids: Iterable[int], start: datetime, end: datetime) -> list[ReviewText]:
    return [
        ReviewText(pid, text, tags or [], s, at)
        # all rows at once: iterating the result fetched them one by one (~0.4 us a row more)
        for pid, text, tags, s, at in read(
            session, _TAGGED_REVIEWS, {"ids": list(product_ids), "start": start, "end": end}
        ).all()
    ]


@dataclass(frozen=True)
class TeardownRow:
    product_id: int
    competitor: str
    name: str
    reviews: int
    price: Decimal | None
    low: Decimal | None
    high: Decimal | None
    copy: list[str]


_TEARDOWN_BANDS = (
    select(Observation.product_id, func.min(Observation.price), func.max(Observation.price))
    .where(
        Observation.product_id.in_(bindparam("ids", expanding=True)),
        Observation.last_seen_at >= bindparam("since"),
        *CONFIRMED,
    )
    .group_by(Observation.product_id)
)
_TEARDOWN_COPY = (
    select(Observation.product_id, Observation.title, Observation.promo)
    .distinct()
    .where(
        Observation.product_id.in_(bindparam("ids", expanding=True)),
        Observation.last_seen_at >= bindparam("since"),
        Observation.voided_at.is_(None),
    )
)


def teardown_rows(session: Session, products: list[tuple[int, str, str, int]], since: datetime) -> list[TeardownRow]:
    """Price band and copy (titles, promos) since `since` of the given (id, competitor, name, reviews) products."""
    ids = [p[0] for p in products]
    if not ids:
        return []
    params = {"ids": ids, "since": since}
    bands = {pid: (lo, hi) for pid, lo, hi in read(session, _TEARDOWN_BANDS, params)}
    copy: dict[int, list[str]] = defaultdict(list)
    for pid, title, promo in read(session, _TEARDOWN_COPY, params):
        copy[pid] += [t for t in (title, promo) if t]
    current = _prices_before(session, datetime.now(since.tzinfo) + timedelta(days=1), ids)
    return [
        TeardownRow(pid, comp, name, n, current.get(pid), *bands.get(pid, (None, None)), copy.get(pid, []))
        for pid, comp, name, n in products
    ]


# ---------------------------------------------------------------- mentions


def mention_brands(session: Session) -> list[str]:
    return list(read(session, select(Mention.brand).distinct().order_by(Mention.brand)).scalars())


@dataclass(frozen=True)
class VolumeBucket:
    start: datetime
    mentions: int
    negative: int

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.mentions if self.mentions else None


def mention_volume(session: Session, brand: str, start: datetime, step: timedelta, count: int) -> list[VolumeBucket]:
    """Mentions and negatives per bucket [start + i*step, start + (i+1)*step), i < count (by posting time)."""
    end = start + step * count
    # Counted in SQL: a CASE over the bucket edges (portable: no date arithmetic of one dialect).
    bucket = case(*[(Mention.posted_at < start + step * (i + 1), i) for i in range(count)], else_=None)
    n = [0] * count
    neg = [0] * count
    for i, total, negative in read(
        session,
        select(bucket.label("b"), func.count(), func.sum(case((Mention.label == "neg", 1), else_=0)))
        .where(Mention.brand == brand, Mention.posted_at >= start, Mention.posted_at < end)
        .group_by("b"),
    ):
        if i is not None:
            n[i], neg[i] = total, int(negative or 0)
    return [VolumeBucket(start + step * i, n[i], neg[i]) for i in range(count)]


def negative_times(session: Session, brand: str, after: datetime, until: datetime) -> list[datetime]:
    """When each of the brand's negative mentions in ``(after, until]`` was posted (the crisis
    baseline's hours are counted from these, the rule's way: only negatives count)."""
    return [
        t
        for t in read(
            session,
            select(Mention.posted_at).where(
                Mention.brand == brand, Mention.label == "neg", Mention.posted_at > after, Mention.posted_at <= until
            ),
        ).scalars()
        if t is not None
    ]


def mention_sources(session: Session, brand: str) -> list[str]:
    return list(
        read(
            session, select(Mention.source).where(Mention.brand == brand).distinct().order_by(Mention.source)
        ).scalars()
    )


@dataclass(frozen=True)
class CrisisNow:
    alert_id: int
    level: str
    rule: str
    summary: str
    facts: list[tuple[str, str]]
    since: datetime


def current_crisis(session: Session, brand: str) -> CrisisNow | None:
    a = session.scalars(
        select(Alert)
        .where(Alert.subject_key == f"brand:{brand}", Alert.state == "firing", Alert.is_crisis.is_(True))
        .order_by(Alert.level_since.desc())
    ).first()
    if a is None:
        return None
    facts = [(str(k), str(v)) for k, v in (a.facts or []) if True] if a.facts else []
    return CrisisNow(a.id, a.level, a.rule, a.summary, facts, a.level_since)


# ---------------------------------------------------------------- crawl health


@dataclass(frozen=True)
class RunRow:
    id: int
    spider: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    pages: int
    changes: int
    unchanged: int
    failures: int
    errors: list[str]


def last_runs(session: Session) -> list[RunRow]:
    """The newest crawl run of each spider."""
    rn = func.row_number().over(partition_by=CrawlRun.spider, order_by=CrawlRun.id.desc()).label("rn")
    sub = select(CrawlRun.id.label("rid"), rn).subquery()
    rows = session.scalars(
        select(CrawlRun).join(sub, sub.c.rid == CrawlRun.id).where(sub.c.rn == 1).order_by(CrawlRun.spider)
    ).all()
    return [
        RunRow(
            r.id,
            r.spider,
            r.started_at,
            r.finished_at,
            r.status,
            r.pages,
            r.changes,
            r.unchanged,
            r.failures,
            r.errors or [],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class CompetitorHealth:
    competitor: str
    products: int
    last_seen_at: datetime | None
    changed: int  # in the newest products run
    unchanged: int | None  # (None: that run did not count it per competitor)
    failed: int
    blocked: int
    blocked_reason: str | None


# Per competitor: its active products and the latest last_seen_at of its products' newest confirmed
# observations (rows only ever move forward), grouped in SQL (the page used to fetch a row per
# product and take the max in Python). Built once; a competitor with no active product and nothing
# seen is left out, as before.
_COMPETITOR_SEEN = (
    select(
        Competitor.name,
        func.count(case((Product.active.is_(True), Product.id))),
        func.max(Observation.last_seen_at),
    )
    .join(Product, Product.competitor_id == Competitor.id)
    .outerjoin(Observation, Observation.id == _latest_id(None))
    .group_by(Competitor.name)
    .having(
        (func.count(case((Product.active.is_(True), Product.id))) > 0) | func.max(Observation.last_seen_at).is_not(None)
    )
)


def competitor_health(session: Session, run_id: int | None) -> list[CompetitorHealth]:
    last_seen: dict[str, datetime] = {}
    products: dict[str, int] = {}
    for name, active, seen in read(session, _COMPETITOR_SEEN):
        if active:
            products[name] = active
        if seen is not None:
            last_seen[name] = seen
    changed: dict[str, int] = {}
    failed: dict[str, int] = {}
    blocked: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    reasons: dict[str, str | None] = {}
    if run_id is not None:
        outcomes = read(
            session,
            select(
                CrawlCompetitorOutcome.competitor,
                CrawlCompetitorOutcome.changed,
                CrawlCompetitorOutcome.unchanged,
                CrawlCompetitorOutcome.failed,
                CrawlCompetitorOutcome.blocked,
                CrawlCompetitorOutcome.blocked_reason,
            ).where(CrawlCompetitorOutcome.crawl_run_id == run_id),
        ).all()
        for name, ch, un, fa, bl, why in outcomes:
            changed[name], unchanged[name], failed[name], blocked[name], reasons[name] = ch, un, fa, bl, why
        if not outcomes:  # a run from before per-competitor outcomes were recorded: count its rows
            changed = dict(
                read(
                    session,
                    select(Competitor.name, func.count())
                    .join(Product, Product.competitor_id == Competitor.id)
                    .join(Observation, Observation.product_id == Product.id)
                    .where(Observation.crawl_run_id == run_id)
                    .group_by(Competitor.name),
                ).all()
            )
            for name, kind, n in read(
                session,
                select(Competitor.name, FailedObservation.kind, func.count())
                .join(Product, Product.competitor_id == Competitor.id)
                .join(FailedObservation, FailedObservation.product_id == Product.id)
                .where(FailedObservation.crawl_run_id == run_id)
                .group_by(Competitor.name, FailedObservation.kind),
            ):
                (blocked if kind == "blocked" else failed)[name] = n
    return [
        CompetitorHealth(
            name,
            products.get(name, 0),
            last_seen.get(name),
            changed.get(name, 0),
            unchanged.get(name),
            failed.get(name, 0),
            blocked.get(name, 0),
            reasons.get(name),
        )
        for name in sorted(set(last_seen) | set(products) | set(changed) | set(blocked))
    ]
