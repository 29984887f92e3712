"""Queries of the daily report (:mod:`jingshao.reports.data` assembles their results).

Aggregates run in SQL; only rows that will be shown, or that feed a chart, come back to Python, so a
report's build time follows what is shown, not how much history the database holds.

"The range" is [start, end): aware datetimes, normally one local day of the configured time zone.
Observations are change-only (see storage.models), so "what changed in the range" is the first
observation of each product as the range starts (the last one before it, or the first one in it for a
product first seen that day) against its last one in the range.

Voided observations are gone from the report; suspect prices (beyond the plausibility factor, not yet
confirmed by the next crawl) stay out of its price changes, charts and current prices until confirmed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from jingshao.storage.models import (
    AdlawHit,
    Alert,
    AlertEvent,
    ChannelState,
    Competitor,
    CrawlRun,
    FailedObservation,
    Mention,
    Observation,
    Product,
    Review,
)
from jingshao.storage.queries import dated

ALERT_KINDS = ("opened", "escalated", "resolved")
SEVERITY = {"red": 0, "yellow": 1, "blue": 2}


# ---------------------------------------------------------------- result types


@dataclass(frozen=True)
class ProductRef:
    id: int
    competitor: str
    name: str
    url: str


@dataclass(frozen=True)
class CatalogProduct:
    """A product as the report knows it: who sells it, and whether it is still watched."""

    ref: ProductRef
    active: bool


@dataclass(frozen=True)
class ObservedState:
    """A product's observation (one change-only row): what the page showed from ``first_seen_at`` on."""

    product_id: int
    first_seen_at: datetime
    last_seen_at: datetime
    title: str | None
    price: Decimal | None
    currency: str | None
    availability: str | None
    promo: str | None


@dataclass(frozen=True)
class PricePoint:
    at: datetime
    price: Decimal
    list_price: Decimal | None = None  # 划线价 (the page's original_price) from this point on, when known
    final_price: Decimal | None = None  # 到手价 (after coupons and 满减) from this point on, when known


@dataclass(frozen=True)
class PriceChange:
    product: ProductRef
    old: Decimal
    new: Decimal
    pct: float  # (new - old) / old * 100
    currency: str | None
    changes: int  # observations in the range (a price can move more than once a day)
    trend: tuple[PricePoint, ...] = ()  # step points over the trend window; only for the charted ones

    @property
    def is_drop(self) -> bool:
        return self.new < self.old


@dataclass(frozen=True)
class PromoChange:
    product: ProductRef
    old: str | None
    new: str | None


@dataclass(frozen=True)
class StockChange:
    product: ProductRef
    old: str | None  # availability (InStock, OutOfStock, PreOrder, None)
    new: str | None

    @property
    def now_out(self) -> bool:
        return self.new == "OutOfStock"


@dataclass(frozen=True)
class ObservedChanges:
    """What changed in the range: prices (largest moves first), promos, stock (sold out first)."""

    prices: tuple[PriceChange, ...]
    promos: tuple[PromoChange, ...]
    stock: tuple[StockChange, ...]


@dataclass(frozen=True)
class AdlawFinding:
    product: ProductRef
    field: str
    word: str
    category: str | None
    context: str
    at: datetime


@dataclass(frozen=True)
class ReviewWindowStats:
    """A product's reviews published in the review window: count, labelled positive / negative, mean score."""

    reviews: int
    positive: int
    negative: int
    mean: float | None


@dataclass(frozen=True)
class NewReviewStats:
    """A product's reviews first crawled in the range, and how many of them are positive."""

    reviews: int
    positive: int


@dataclass(frozen=True)
class TaggedReview:
    """A review's text, its stored preference tags (the JSON rows ``crawlers.enrichment`` wrote) and score."""

    text: str
    tags: tuple[dict[str, Any], ...]
    sentiment: float | None


@dataclass(frozen=True)
class DatedReview:
    """A review's text and stored tags, with when it was written (else first crawled), aware UTC."""

    text: str
    tags: tuple[dict[str, Any], ...]
    at: datetime


@dataclass(frozen=True)
class PriceBand:
    low: Decimal | None
    high: Decimal | None


@dataclass(frozen=True)
class MentionPoint:
    """One mention, reduced to what the trend needs."""

    brand: str
    posted_at: datetime
    label: str | None
    sentiment: float | None


@dataclass(frozen=True)
class MentionItem:
    title: str
    source: str
    url: str
    posted_at: datetime
    sentiment: float | None


@dataclass(frozen=True)
class AlertItem:
    kind: str  # opened | escalated | resolved
    level: str
    at: datetime
    subject: str
    summary: str
    family: str
    state: str
    is_crisis: bool
    detail: str | None


@dataclass(frozen=True)
class AlertSummary:
    opened: int
    escalated: int
    resolved: int
    firing_now: int
    items: tuple[AlertItem, ...]


@dataclass(frozen=True)
class FailingSource:
    url: str
    product: str | None
    reason: str
    count: int
    last_at: datetime
    http_status: int | None


@dataclass(frozen=True)
class CrawlProblem:
    spider: str
    started_at: datetime
    status: str
    failures: int
    error: str | None


@dataclass(frozen=True)
class BrokenChannel:
    name: str
    reason: str | None
    since: datetime


# ---------------------------------------------------------------- helpers

_OBS_COLS = (
    Observation.product_id,
    Observation.first_seen_at,
    Observation.last_seen_at,
    Observation.title,
    Observation.price,
    Observation.currency,
    Observation.availability,
    Observation.promo,
)

_NOT_VOID = Observation.voided_at.is_(None)
_CONFIRMED = (Observation.voided_at.is_(None), Observation.status == "ok")


def _state(row: Any) -> ObservedState:
    return ObservedState(*row)


def _latest_per_product(before: datetime, product_ids: Any | None = None) -> Any:
    """The newest confirmed observation of each product first seen before `before` (window function,
    one pass over the product/time index on both SQLite and PostgreSQL)."""
    rn = (
        func.row_number()
        .over(partition_by=Observation.product_id, order_by=(Observation.first_seen_at.desc(), Observation.id.desc()))
        .label("rn")
    )
    inner = select(Observation.id.label("oid"), rn).where(Observation.first_seen_at < before, *_CONFIRMED)
    if product_ids is not None:
        inner = inner.where(Observation.product_id.in_(product_ids))
    sub = inner.subquery()
    return select(*_OBS_COLS).join(sub, sub.c.oid == Observation.id).where(sub.c.rn == 1)


# ---------------------------------------------------------------- catalog and observations


def catalog(session: Session, ids: Iterable[int] | None = None) -> dict[int, CatalogProduct]:
    """Products (all, or those in ``ids``) by id, with their competitor's name."""
    q = select(Product.id, Product.name, Product.url, Product.active, Competitor.name).join(
        Competitor, Product.competitor_id == Competitor.id
    )
    if ids is not None:
        ids = list(ids)
        if not ids:
            return {}
        q = q.where(Product.id.in_(ids))
    return {
        pid: CatalogProduct(ProductRef(pid, comp, name or url, url), bool(active))
        for pid, name, url, active, comp in session.execute(q)
    }


def latest_states(session: Session, before: datetime) -> dict[int, ObservedState]:
    """Each product's newest confirmed observation first seen before ``before``."""
    return {r.product_id: _state(r) for r in session.execute(_latest_per_product(before))}


def observed_changes(session: Session, start: datetime, end: datetime) -> ObservedChanges:
    """Price, promo and stock changes of [start, end): first state as the range starts against the last in it."""
    changed_ids = (
        select(Observation.product_id)
        .where(Observation.first_seen_at >= start, Observation.first_seen_at < end, *_CONFIRMED)
        .distinct()
    )
    seqs: dict[int, list[ObservedState]] = defaultdict(list)
    for row in session.execute(_latest_per_product(start, changed_ids)):
        seqs[row.product_id].append(_state(row))
    in_range = (
        select(*_OBS_COLS)
        .where(Observation.first_seen_at >= start, Observation.first_seen_at < end, *_CONFIRMED)
        .order_by(Observation.product_id, Observation.first_seen_at, Observation.id)
    )
    for row in session.execute(in_range):
        seqs[row.product_id].append(_state(row))
    refs = catalog(session, seqs)
    prices: list[PriceChange] = []
    promos: list[PromoChange] = []
    stock: list[StockChange] = []
    for pid, seq in seqs.items():
        if len(seq) < 2 or pid not in refs or not refs[pid].active:  # paused / removed: out of the report
            continue
        first, last = seq[0], seq[-1]
        ref = refs[pid].ref
        if first.price is not None and last.price is not None and first.price != last.price and first.price:
            pct = float((last.price - first.price) / first.price * 100)
            prices.append(PriceChange(ref, first.price, last.price, pct, last.currency, len(seq) - 1))
        if (first.promo or None) != (last.promo or None):
            promos.append(PromoChange(ref, first.promo, last.promo))
        if first.availability != last.availability:
            stock.append(StockChange(ref, first.availability, last.availability))
    prices.sort(key=lambda c: (-abs(c.pct), c.product.id))
    promos.sort(key=lambda c: (c.product.competitor, c.product.id))
    stock.sort(key=lambda c: (not c.now_out, c.product.competitor, c.product.id))
    return ObservedChanges(tuple(prices), tuple(promos), tuple(stock))


def price_trends(
    session: Session, ids: Iterable[int], window_start: datetime, end: datetime
) -> dict[int, tuple[PricePoint, ...]]:
    """Step points (price, 划线价 and 到手价 from each change on) of the given products over [window_start, end)."""
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            Observation.product_id,
            Observation.first_seen_at,
            Observation.last_seen_at,
            Observation.price,
            Observation.original_price,
            Observation.final_price,
        )
        .where(
            Observation.product_id.in_(ids),
            Observation.first_seen_at < end,
            Observation.last_seen_at >= window_start,
            *_CONFIRMED,
        )
        .order_by(Observation.product_id, Observation.first_seen_at, Observation.id)
    )
    points: dict[int, list[PricePoint]] = defaultdict(list)
    last_seen: dict[int, datetime] = {}
    for pid, first, last, price, listed, final in rows:
        last_seen[pid] = max(last, last_seen.get(pid, last))
        if price is None:
            continue
        at = max(first, window_start)
        pts = points[pid]
        point = PricePoint(at, price, listed, final)
        if pts and pts[-1].at == at:
            pts[-1] = point  # two changes at the clamped start: the later one holds
        else:
            pts.append(point)
    out = {}
    for pid, pts in points.items():
        tail = min(max(last_seen[pid], pts[-1].at), end)
        if tail > pts[-1].at:
            pts.append(PricePoint(tail, pts[-1].price, pts[-1].list_price, pts[-1].final_price))
        out[pid] = tuple(pts)
    return out


def price_bands(session: Session, ids: Iterable[int], window_start: datetime, end: datetime) -> dict[int, PriceBand]:
    """Lowest and highest confirmed price of each product over [window_start, end)."""
    ids = list(ids)
    if not ids:
        return {}
    return {
        pid: PriceBand(lo, hi)
        for pid, lo, hi in session.execute(
            select(Observation.product_id, func.min(Observation.price), func.max(Observation.price))
            .where(
                Observation.product_id.in_(ids),
                Observation.first_seen_at < end,
                Observation.last_seen_at >= window_start,
                *_CONFIRMED,
            )
            .group_by(Observation.product_id)
        )
    }


def product_copy(session: Session, ids: Iterable[int], window_start: datetime, end: datetime) -> dict[int, list[str]]:
    """The distinct titles and promo texts each product showed over [window_start, end)."""
    ids = list(ids)
    if not ids:
        return {}
    copy: dict[int, list[str]] = defaultdict(list)
    for pid, title, promo in session.execute(
        select(Observation.product_id, Observation.title, Observation.promo)
        .distinct()
        .where(
            Observation.product_id.in_(ids),
            Observation.first_seen_at < end,
            Observation.last_seen_at >= window_start,
            _NOT_VOID,
        )
    ):
        copy[pid] += [t for t in (title, promo) if t]
    return dict(copy)


def adlaw_findings(session: Session, start: datetime, end: datetime) -> list[AdlawFinding]:
    """Ad-law hits in copy observed in the range, one per product, field and word."""
    rows = session.execute(
        select(
            AdlawHit.product_id,
            AdlawHit.field,
            AdlawHit.word,
            AdlawHit.category,
            AdlawHit.context,
            Observation.first_seen_at,
        )
        .join(Observation, AdlawHit.observation_id == Observation.id)
        .where(Observation.first_seen_at >= start, Observation.first_seen_at < end, _NOT_VOID)
        .order_by(AdlawHit.product_id, AdlawHit.id)
    ).all()
    refs = catalog(session, {r.product_id for r in rows})
    seen: set[tuple[int, str, str]] = set()
    out = []
    for pid, fld, word, category, context, at in rows:
        # A product re-observed twice in a day: one finding; paused / removed products: none.
        if (pid, fld, word) in seen or pid not in refs or not refs[pid].active:
            continue
        seen.add((pid, fld, word))
        out.append(AdlawFinding(refs[pid].ref, fld, word, category, context, at))
    return out


# ---------------------------------------------------------------- reviews


def review_window_stats(session: Session, window_start: datetime, end: datetime) -> dict[int, ReviewWindowStats]:
    """Per product, reviews published (or, undated, first crawled) in [window_start, end). Aggregated in SQL."""
    when = func.coalesce(Review.posted_at, Review.first_seen_at)
    pos = func.sum(case((Review.label == "pos", 1), else_=0))
    neg = func.sum(case((Review.label == "neg", 1), else_=0))
    return {
        pid: ReviewWindowStats(n, p or 0, ng or 0, None if mean is None else float(mean))
        for pid, n, p, ng, mean in session.execute(
            select(Review.product_id, func.count(), pos, neg, func.avg(Review.sentiment))
            .where(when >= window_start, when < end)
            .group_by(Review.product_id)
        )
    }


def new_review_stats(session: Session, start: datetime, end: datetime) -> dict[int, NewReviewStats]:
    """Per product, reviews first crawled in [start, end) and how many are positive."""
    pos = func.sum(case((Review.label == "pos", 1), else_=0))
    return {
        pid: NewReviewStats(n, p or 0)
        for pid, n, p in session.execute(
            select(Review.product_id, func.count(), pos)
            .where(Review.first_seen_at >= start, Review.first_seen_at < end)
            .group_by(Review.product_id)
        )
    }


def review_totals(session: Session) -> dict[int, int]:
    """All-time stored reviews per product."""
    return {pid: n for pid, n in session.execute(select(Review.product_id, func.count()).group_by(Review.product_id))}


def tagged_reviews(
    session: Session, ids: Iterable[int], window_start: datetime, end: datetime
) -> dict[int, list[TaggedReview]]:
    """The tagged reviews of the given products published in [window_start, end)."""
    ids = list(ids)
    if not ids:
        return {}
    when = func.coalesce(Review.posted_at, Review.first_seen_at)
    out: dict[int, list[TaggedReview]] = defaultdict(list)
    for pid, text, tags, s in session.execute(
        select(Review.product_id, Review.text, Review.tags, Review.sentiment).where(
            Review.product_id.in_(ids), when >= window_start, when < end, Review.tags.is_not(None)
        )
    ):
        out[pid].append(TaggedReview(text, tuple(tags or ()), s))
    return dict(out)


def dated_reviews(
    session: Session, ids: Iterable[int], window_start: datetime, end: datetime
) -> dict[int, list[DatedReview]]:
    """Every review of the given products written (undated: first crawled) in [window_start, end)."""
    ids = list(ids)
    if not ids:
        return {}
    when = func.coalesce(Review.posted_at, Review.first_seen_at)
    out: dict[int, list[DatedReview]] = defaultdict(list)
    for pid, text, tags, at in session.execute(
        select(Review.product_id, Review.text, Review.tags, when).where(
            Review.product_id.in_(ids), when >= window_start, when < end
        )
    ):
        out[pid].append(DatedReview(text, tuple(tags or ()), _aware(at)))
    return dict(out)


def _aware(at: datetime | str) -> datetime:
    """coalesce() loses the column's UTC type: SQLite hands back naive text/datetimes of stored UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# ---------------------------------------------------------------- mentions


def mention_points(session: Session, start: datetime, end: datetime) -> list[MentionPoint]:
    """Every mention posted in [start, end) (undated ones are in no range)."""
    return [
        MentionPoint(brand, dated(posted), label, s)
        for brand, posted, label, s in session.execute(
            select(Mention.brand, Mention.posted_at, Mention.label, Mention.sentiment).where(
                Mention.posted_at >= start, Mention.posted_at < end
            )
        )
        if posted is not None  # never, given the range; it tells the type checker
    ]


def negative_mentions(
    session: Session, brand: str, start: datetime, end: datetime, limit: int = 3
) -> list[MentionItem]:
    """The brand's negative mentions of the range, most authoritative (then most negative) first."""
    return [
        MentionItem(title or text[:60], source, url, dated(posted), s)
        for title, text, source, url, posted, s in session.execute(
            select(Mention.title, Mention.text, Mention.source, Mention.url, Mention.posted_at, Mention.sentiment)
            .where(Mention.brand == brand, Mention.posted_at >= start, Mention.posted_at < end, Mention.label == "neg")
            .order_by(Mention.authority.desc(), Mention.sentiment, Mention.id)
            .limit(limit)
        )
        if posted is not None
    ]


# ---------------------------------------------------------------- alerts and health


def alert_summary(session: Session, start: datetime, end: datetime) -> AlertSummary:
    """Alerts opened, escalated and resolved in the range (most severe first, then in time order)."""
    rows = session.execute(
        select(
            AlertEvent.kind,
            AlertEvent.level,
            AlertEvent.at,
            AlertEvent.detail,
            Alert.subject,
            Alert.summary,
            Alert.family,
            Alert.state,
            Alert.is_crisis,
        )
        .join(Alert, AlertEvent.alert_id == Alert.id)
        .where(AlertEvent.at >= start, AlertEvent.at < end, AlertEvent.kind.in_(ALERT_KINDS))
        .order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    # Most severe first (a red alert is what a reader must not miss), then in time order.
    items = tuple(
        sorted(
            (
                AlertItem(k, lv, at, subj, summ, fam, st, bool(cr), det)
                for k, lv, at, det, subj, summ, fam, st, cr in rows
            ),
            key=lambda i: (SEVERITY.get(i.level, 3), i.at),
        )
    )
    firing = session.scalar(select(func.count()).select_from(Alert).where(Alert.state == "firing")) or 0
    return AlertSummary(
        sum(1 for i in items if i.kind == "opened"),
        sum(1 for i in items if i.kind == "escalated"),
        sum(1 for i in items if i.kind == "resolved"),
        firing,
        items,
    )


def failing_sources(session: Session, start: datetime, end: datetime) -> list[FailingSource]:
    """Failed fetches of the range by URL and reason, most frequent first."""
    failing = session.execute(
        select(
            FailedObservation.url,
            FailedObservation.reason,
            func.count(),
            func.max(FailedObservation.at),
            func.max(FailedObservation.http_status),
            func.max(FailedObservation.product_id),
        )
        .where(FailedObservation.at >= start, FailedObservation.at < end)
        .group_by(FailedObservation.url, FailedObservation.reason)
    ).all()
    refs = catalog(session, {r[5] for r in failing if r[5] is not None})
    return sorted(
        (
            FailingSource(url, refs[pid].ref.name if pid in refs else None, reason, n, last, status)
            for url, reason, n, last, status, pid in failing
        ),
        key=lambda f: (-f.count, f.url, f.reason),
    )


def crawl_problems(session: Session, start: datetime, end: datetime) -> list[CrawlProblem]:
    """Crawl runs of the range that failed, were interrupted or recorded failures."""
    return [
        CrawlProblem(spider, started, status, failures or 0, errors[0] if errors else None)
        for spider, started, status, failures, errors in session.execute(
            select(CrawlRun.spider, CrawlRun.started_at, CrawlRun.status, CrawlRun.failures, CrawlRun.errors)
            .where(
                CrawlRun.started_at >= start,
                CrawlRun.started_at < end,
                (CrawlRun.status.in_(("failed", "interrupted"))) | (CrawlRun.failures > 0),
            )
            .order_by(CrawlRun.started_at)
        )
    ]


def broken_channels(session: Session) -> list[BrokenChannel]:
    """Channels in the ``broken`` state (a permanent error), by name."""
    return [
        BrokenChannel(n, r, s)
        for n, r, s in session.execute(
            select(ChannelState.name, ChannelState.reason, ChannelState.since)
            .where(ChannelState.state == "broken")
            .order_by(ChannelState.name)
        )
    ]
