"""Assembly of the daily report's figures: stored facts in, plain dataclasses out.

One function, `build_report_data`, reads everything a day's report needs in a fixed, small number of
queries (aggregates run in SQL; only rows that will be shown, or that feed a chart, come back to
Python), so the build time follows what is shown, not how much history the database holds.
Nothing here formats text or touches a template: `render` does that, charts come from `charts`.

"The range" is [day_start, day_end): aware datetimes, normally one local day of the configured time
zone. Observations are change-only (see storage.models), so "what changed in the range" is the
first observation of each product as the range starts (the last one before it, or the first one in
it for a product first seen that day) against its last one in the range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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

from .settings import ReportConfig

if TYPE_CHECKING:  # the nlp package loads jieba lazily; the report imports it only when it builds
    from jingshao.nlp.mindmap import MindMap

ALERT_KINDS = ("opened", "escalated", "resolved")


# ---------------------------------------------------------------- result types


@dataclass(frozen=True)
class ProductRef:
    id: int
    competitor: str
    name: str
    url: str


@dataclass(frozen=True)
class PricePoint:
    at: datetime
    price: Decimal


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
class AdlawFinding:
    product: ProductRef
    field: str
    word: str
    category: str | None
    context: str
    at: datetime


@dataclass(frozen=True)
class StockChange:
    product: ProductRef
    old: str | None  # availability (InStock, OutOfStock, PreOrder, None)
    new: str | None

    @property
    def now_out(self) -> bool:
        return self.new == "OutOfStock"


@dataclass(frozen=True)
class TagCount:
    aspect: str
    opinion: str
    reviews: int
    example: str | None = None

    @property
    def label(self) -> str:
        """'物流快'; just the opinion when it already names the aspect ('发热严重', not '发热发热严重')."""
        return self.opinion if self.opinion.startswith(self.aspect) else f"{self.aspect}{self.opinion}"


@dataclass(frozen=True)
class ProductSentiment:
    product: ProductRef
    reviews: int  # in the review window
    new_reviews: int  # first seen in the range
    positive_share: float | None
    negative_share: float | None
    mean: float | None
    pros: tuple[TagCount, ...] = ()
    cons: tuple[TagCount, ...] = ()


@dataclass(frozen=True)
class TeardownProduct:
    product: ProductRef
    price: Decimal | None
    price_min: Decimal | None  # over the price trend window
    price_max: Decimal | None
    availability: str | None
    promo: str | None
    reviews: int  # all time
    positive_share: float | None  # over the review window
    selling_points: tuple[str, ...] = ()
    pros: tuple[TagCount, ...] = ()
    cons: tuple[TagCount, ...] = ()


@dataclass(frozen=True)
class CompetitorTeardown:
    name: str
    products: int
    in_stock: int
    price_min: Decimal | None  # current prices of its products
    price_max: Decimal | None
    selling_points: tuple[str, ...]
    top: tuple[TeardownProduct, ...]
    # 用户心智图谱: the competitor's reviews in the review window, by aspect (jingshao.nlp.mindmap)
    mind_map: MindMap | None = None


@dataclass(frozen=True)
class MentionDay:
    day: date
    total: int
    pos: int
    neutral: int
    neg: int
    mean: float | None


@dataclass(frozen=True)
class MentionItem:
    title: str
    source: str
    url: str
    posted_at: datetime
    sentiment: float | None


@dataclass(frozen=True)
class BrandMentions:
    brand: str
    days: tuple[MentionDay, ...]  # the trend window, oldest first, zero-filled
    total: int  # in the range
    pos: int
    neg: int
    mean: float | None
    negative_examples: tuple[MentionItem, ...] = ()


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


@dataclass(frozen=True)
class Headline:
    competitors: int
    products: int
    out_of_stock: int
    price_changes: int
    price_drops: int
    price_rises: int
    promo_changes: int
    stock_changes: int
    adlaw_findings: int
    new_reviews: int
    new_reviews_positive_share: float | None
    mentions: int
    mentions_negative: int
    alerts_opened: int
    alerts_firing: int
    failing_sources: int
    broken_channels: int


@dataclass(frozen=True)
class ReportData:
    date_from: date
    date_to: date
    timezone: str
    day_start: datetime
    day_end: datetime
    generated_at: datetime
    settings: ReportConfig
    headline: Headline
    price_changes: list[PriceChange] = field(default_factory=list)  # largest moves first
    promo_changes: list[PromoChange] = field(default_factory=list)
    adlaw: list[AdlawFinding] = field(default_factory=list)
    stock_changes: list[StockChange] = field(default_factory=list)
    sentiment: list[ProductSentiment] = field(default_factory=list)  # most reviewed first
    teardowns: list[CompetitorTeardown] = field(default_factory=list)
    brands: list[BrandMentions] = field(default_factory=list)
    alerts: AlertSummary = field(default_factory=lambda: AlertSummary(0, 0, 0, 0, ()))
    failing_sources: list[FailingSource] = field(default_factory=list)
    crawl_problems: list[CrawlProblem] = field(default_factory=list)
    broken_channels: list[BrokenChannel] = field(default_factory=list)

    @property
    def is_single_day(self) -> bool:
        return self.date_from == self.date_to


# ---------------------------------------------------------------- helpers

_OBS_COLS = (
    Observation.id,
    Observation.product_id,
    Observation.first_seen_at,
    Observation.last_seen_at,
    Observation.title,
    Observation.price,
    Observation.currency,
    Observation.availability,
    Observation.promo,
)


# Voided observations are gone from the report; suspect prices (beyond the plausibility factor, not yet
# confirmed by the next crawl) stay out of its price changes and charts until they are confirmed.
_NOT_VOID = Observation.voided_at.is_(None)
_CONFIRMED = (Observation.voided_at.is_(None), Observation.status == "ok")


def _ratio(part: int | None, whole: int | None) -> float | None:
    return (part or 0) / whole if whole else None


def _latest_per_product(before: datetime, product_ids: Any | None = None) -> Any:
    """Rows of the newest observation of each product first seen before `before` (window function,
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


def _product_refs(session: Session, ids: Iterable[int] | None = None) -> dict[int, tuple[ProductRef, bool]]:
    q = select(Product.id, Product.name, Product.url, Product.active, Competitor.name).join(
        Competitor, Product.competitor_id == Competitor.id
    )
    if ids is not None:
        ids = list(ids)
        if not ids:
            return {}
        q = q.where(Product.id.in_(ids))
    return {
        pid: (ProductRef(pid, comp, name or url, url), active) for pid, name, url, active, comp in session.execute(q)
    }


def _tag_counts(
    rows: Sequence[tuple[str, list[dict[str, Any]] | None, float | None]], limit: int
) -> tuple[tuple[TagCount, ...], tuple[TagCount, ...]]:
    """Top pros and cons over (text, stored tags, sentiment) rows, via nlp.aggregate_tags."""
    from jingshao.core.tags import tag_from_row
    from jingshao.nlp import aggregate_tags

    summary = aggregate_tags(
        (text, [tag_from_row(t) for t in (tags or [])], 0.5 if s is None else s) for text, tags, s in rows if tags
    )
    pros = [
        TagCount(t.aspect, t.opinion, t.reviews, t.examples[0] if t.examples else None)
        for t in summary
        if t.polarity == "pos"
    ][:limit]
    cons = [
        TagCount(t.aspect, t.opinion, t.reviews, t.examples[0] if t.examples else None)
        for t in summary
        if t.polarity == "neg"
    ][:limit]
    return tuple(pros), tuple(cons)


# ---------------------------------------------------------------- sections


@dataclass
class _Changes:
    prices: list[PriceChange]
    promos: list[PromoChange]
    stock: list[StockChange]


def _observed_changes(session: Session, start: datetime, end: datetime) -> _Changes:
    changed_ids = (
        select(Observation.product_id)
        .where(Observation.first_seen_at >= start, Observation.first_seen_at < end, *_CONFIRMED)
        .distinct()
    )
    seqs: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(_latest_per_product(start, changed_ids)):
        seqs[row.product_id].append(row)
    in_range = (
        select(*_OBS_COLS)
        .where(Observation.first_seen_at >= start, Observation.first_seen_at < end, *_CONFIRMED)
        .order_by(Observation.product_id, Observation.first_seen_at, Observation.id)
    )
    for row in session.execute(in_range):
        seqs[row.product_id].append(row)
    refs = _product_refs(session, seqs)
    out = _Changes([], [], [])
    for pid, seq in seqs.items():
        if len(seq) < 2 or pid not in refs:
            continue
        first, last = seq[0], seq[-1]
        ref = refs[pid][0]
        if first.price is not None and last.price is not None and first.price != last.price and first.price:
            pct = float((last.price - first.price) / first.price * 100)
            out.prices.append(PriceChange(ref, first.price, last.price, pct, last.currency, len(seq) - 1))
        if (first.promo or None) != (last.promo or None):
            out.promos.append(PromoChange(ref, first.promo, last.promo))
        if first.availability != last.availability:
            out.stock.append(StockChange(ref, first.availability, last.availability))
    out.prices.sort(key=lambda c: (-abs(c.pct), c.product.id))
    out.promos.sort(key=lambda c: (c.product.competitor, c.product.id))
    out.stock.sort(key=lambda c: (not c.now_out, c.product.competitor, c.product.id))
    return out


def _price_trends(
    session: Session, ids: list[int], window_start: datetime, end: datetime
) -> dict[int, tuple[PricePoint, ...]]:
    """Step points (price from each change on) of the given products over [window_start, end)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Observation.product_id, Observation.first_seen_at, Observation.last_seen_at, Observation.price)
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
    for pid, first, last, price in rows:
        last_seen[pid] = max(last, last_seen.get(pid, last))
        if price is None:
            continue
        at = max(first, window_start)
        pts = points[pid]
        if pts and pts[-1].at == at:
            pts[-1] = PricePoint(at, price)  # two changes at the clamped start: the later one holds
        else:
            pts.append(PricePoint(at, price))
    out = {}
    for pid, pts in points.items():
        tail = min(max(last_seen[pid], pts[-1].at), end)
        if tail > pts[-1].at:
            pts.append(PricePoint(tail, pts[-1].price))
        out[pid] = tuple(pts)
    return out


def _adlaw(session: Session, start: datetime, end: datetime) -> list[AdlawFinding]:
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
    refs = _product_refs(session, {r.product_id for r in rows})
    seen: set[tuple[int, str, str]] = set()
    out = []
    for pid, fld, word, category, context, at in rows:
        if (pid, fld, word) in seen or pid not in refs:  # a product re-observed twice in a day: one finding
            continue
        seen.add((pid, fld, word))
        out.append(AdlawFinding(refs[pid][0], fld, word, category, context, at))
    return out


def _review_stats(
    session: Session, window_start: datetime, start: datetime, end: datetime
) -> tuple[dict[int, tuple[int, int, int, float | None]], dict[int, tuple[int, int]]]:
    """Per product: (reviews, positive, negative, mean sentiment) in the review window, and
    (new reviews, new positive) first seen in the range. Aggregated in SQL."""
    when = func.coalesce(Review.posted_at, Review.first_seen_at)
    pos = func.sum(case((Review.label == "pos", 1), else_=0))
    neg = func.sum(case((Review.label == "neg", 1), else_=0))
    window = {
        pid: (n, p or 0, ng or 0, None if mean is None else float(mean))
        for pid, n, p, ng, mean in session.execute(
            select(Review.product_id, func.count(), pos, neg, func.avg(Review.sentiment))
            .where(when >= window_start, when < end)
            .group_by(Review.product_id)
        )
    }
    new = {
        pid: (n, p or 0)
        for pid, n, p in session.execute(
            select(Review.product_id, func.count(), pos)
            .where(Review.first_seen_at >= start, Review.first_seen_at < end)
            .group_by(Review.product_id)
        )
    }
    return window, new


def _mind_map_rows(
    session: Session, ids: Iterable[int], window_start: datetime, end: datetime
) -> dict[int, list[tuple[str, Any, datetime]]]:
    """(text, stored tags, written or first-seen time) of the products' reviews in the window."""
    ids = list(ids)
    if not ids:
        return {}
    when = func.coalesce(Review.posted_at, Review.first_seen_at)
    out: dict[int, list[tuple[str, Any, datetime]]] = defaultdict(list)
    for pid, text, tags, at in session.execute(
        select(Review.product_id, Review.text, Review.tags, when).where(
            Review.product_id.in_(ids), when >= window_start, when < end
        )
    ):
        out[pid].append((text, tags, at))
    return out


#: Aspects per competitor in the report's mind map (the most talked about first).
MIND_MAP_ASPECTS = 6


def _mind_maps(
    rows: dict[int, list[tuple[str, Any, datetime]]], by_comp: dict[str, list[int]], end: datetime
) -> dict[str, MindMap]:
    from jingshao.core.tags import tag_from_row
    from jingshao.nlp.mindmap import MindMapReview, build_mind_map

    out = {}
    for comp, pids in by_comp.items():
        reviews = [
            MindMapReview(text, [tag_from_row(t) for t in (tags or [])], _aware(at))
            for pid in pids
            for text, tags, at in rows.get(pid, [])
        ]
        if reviews:
            out[comp] = build_mind_map(reviews, competitor=comp, top=3, aspects=MIND_MAP_ASPECTS, now=end)
    return out


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _review_rows(
    session: Session, ids: Iterable[int], window_start: datetime, end: datetime
) -> dict[int, list[tuple[str, Any, float | None]]]:
    ids = list(ids)
    if not ids:
        return {}
    when = func.coalesce(Review.posted_at, Review.first_seen_at)
    out: dict[int, list[tuple[str, Any, float | None]]] = defaultdict(list)
    for pid, text, tags, s in session.execute(
        select(Review.product_id, Review.text, Review.tags, Review.sentiment).where(
            Review.product_id.in_(ids), when >= window_start, when < end, Review.tags.is_not(None)
        )
    ):
        out[pid].append((text, tags, s))
    return out


def _sentiment(
    refs: dict[int, tuple[ProductRef, bool]],
    window: dict[int, tuple[int, int, int, float | None]],
    new: dict[int, tuple[int, int]],
    tag_rows: dict[int, list[Any]],
    shown: list[int],
) -> list[ProductSentiment]:
    out = []
    for pid in sorted(set(window) | set(new), key=lambda p: (-window.get(p, (0,))[0], -new.get(p, (0,))[0], p)):
        if pid not in refs:
            continue
        n, p, ng, mean = window.get(pid, (0, 0, 0, None))
        pros, cons = _tag_counts(tag_rows.get(pid, []), 3) if pid in shown else ((), ())
        out.append(
            ProductSentiment(refs[pid][0], n, new.get(pid, (0, 0))[0], _ratio(p, n), _ratio(ng, n), mean, pros, cons)
        )
    return out


def _top_products(
    cfg: ReportConfig, refs: dict[int, tuple[ProductRef, bool]], review_totals: dict[int, int]
) -> dict[str, list[int]]:
    """The teardown's competitors (most reviewed first) and each one's most reviewed active products."""
    by_comp: dict[str, list[int]] = defaultdict(list)
    for pid, (ref, active) in refs.items():
        if active:
            by_comp[ref.competitor].append(pid)
    order = sorted(by_comp, key=lambda c: (-sum(review_totals.get(p, 0) for p in by_comp[c]), c))
    return {
        c: sorted(by_comp[c], key=lambda p: (-review_totals.get(p, 0), p))[: cfg.top_products]
        for c in order[: cfg.max_competitors]
    }


def _teardowns(
    session: Session,
    refs: dict[int, tuple[ProductRef, bool]],
    top_ids: dict[str, list[int]],
    latest: dict[int, Any],
    review_totals: dict[int, int],
    window: dict[int, tuple[int, int, int, float | None]],
    tag_rows: dict[int, list[Any]],
    trend_start: datetime,
    end: datetime,
    review_start: datetime,
) -> list[CompetitorTeardown]:
    from jingshao.nlp import selling_points

    by_comp: dict[str, list[int]] = defaultdict(list)
    for pid, (ref, active) in refs.items():
        if active:
            by_comp[ref.competitor].append(pid)
    all_top = [p for ids in top_ids.values() for p in ids]
    bands = {
        pid: (lo, hi)
        for pid, lo, hi in session.execute(
            select(Observation.product_id, func.min(Observation.price), func.max(Observation.price))
            .where(
                Observation.product_id.in_(all_top or [-1]),
                Observation.first_seen_at < end,
                Observation.last_seen_at >= trend_start,
                *_CONFIRMED,
            )
            .group_by(Observation.product_id)
        )
    }
    copy: dict[int, list[str]] = defaultdict(list)
    for pid, title, promo in session.execute(
        select(Observation.product_id, Observation.title, Observation.promo)
        .distinct()
        .where(
            Observation.product_id.in_(all_top or [-1]),
            Observation.first_seen_at < end,
            Observation.last_seen_at >= trend_start,
            _NOT_VOID,
        )
    ):
        copy[pid] += [t for t in (title, promo) if t]
    shown = {c: by_comp[c] for c in top_ids}
    maps = _mind_maps(
        _mind_map_rows(session, [p for ids in shown.values() for p in ids], review_start, end), shown, end
    )
    out = []
    for comp in top_ids:
        pids = by_comp[comp]
        current = [latest[p] for p in pids if p in latest]
        prices = [r.price for r in current if r.price is not None]
        comp_copy = [t for r in current for t in (r.title, r.promo) if t]
        top = []
        for pid in top_ids[comp]:
            ref = refs[pid][0]
            row = latest.get(pid)
            lo, hi = bands.get(pid, (None, None))
            n, p, _, _ = window.get(pid, (0, 0, 0, None))
            pros, cons = _tag_counts(tag_rows.get(pid, []), 3)
            points = tuple(w for w, _ in selling_points(dict.fromkeys(copy.get(pid, [])), topk=5))
            top.append(
                TeardownProduct(
                    ref,
                    row.price if row else None,
                    lo,
                    hi,
                    row.availability if row else None,
                    row.promo if row else None,
                    review_totals.get(pid, 0),
                    _ratio(p, n),
                    points,
                    pros,
                    cons,
                )
            )
        out.append(
            CompetitorTeardown(
                comp,
                len(pids),
                sum(1 for r in current if r.availability in ("InStock", "PreOrder")),
                min(prices) if prices else None,
                max(prices) if prices else None,
                tuple(w for w, _ in selling_points(dict.fromkeys(comp_copy), topk=8)),
                tuple(top),
                maps.get(comp),
            )
        )
    return out


def _brands(session: Session, cfg: ReportConfig, tz: tzinfo, start: datetime, end: datetime) -> list[BrandMentions]:
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    first_day = last_day - timedelta(days=cfg.mention_trend_days - 1)
    trend_start = min(datetime.combine(first_day, datetime.min.time(), tz), start)
    per_day: dict[str, dict[date, list[Any]]] = defaultdict(lambda: defaultdict(list))
    in_range: dict[str, list[Any]] = defaultdict(list)
    for brand, posted, label, s in session.execute(
        select(Mention.brand, Mention.posted_at, Mention.label, Mention.sentiment).where(
            Mention.posted_at >= trend_start, Mention.posted_at < end
        )
    ):
        per_day[brand][posted.astimezone(tz).date()].append((label, s))
        if posted >= start:
            in_range[brand].append((label, s))
    brands = sorted(per_day, key=lambda b: (-len(in_range.get(b, [])), -sum(map(len, per_day[b].values())), b))
    out = []
    for brand in brands[: cfg.max_brands]:
        days = []
        for i in range(cfg.mention_trend_days):
            d = first_day + timedelta(days=i)
            items = per_day[brand].get(d, [])
            scores = [s for _, s in items if s is not None]
            days.append(
                MentionDay(
                    d,
                    len(items),
                    sum(1 for lb, _ in items if lb == "pos"),
                    sum(1 for lb, _ in items if lb in ("neu", "neutral")),  # neutral: legacy rows
                    sum(1 for lb, _ in items if lb == "neg"),
                    sum(scores) / len(scores) if scores else None,
                )
            )
        items = in_range.get(brand, [])
        scores = [s for _, s in items if s is not None]
        examples = tuple(
            MentionItem(title or text[:60], source, url, posted, s)
            for title, text, source, url, posted, s in session.execute(
                select(Mention.title, Mention.text, Mention.source, Mention.url, Mention.posted_at, Mention.sentiment)
                .where(
                    Mention.brand == brand, Mention.posted_at >= start, Mention.posted_at < end, Mention.label == "neg"
                )
                .order_by(Mention.authority.desc(), Mention.sentiment, Mention.id)
                .limit(3)
            )
        )
        out.append(
            BrandMentions(
                brand,
                tuple(days),
                len(items),
                sum(1 for lb, _ in items if lb == "pos"),
                sum(1 for lb, _ in items if lb == "neg"),
                sum(scores) / len(scores) if scores else None,
                examples,
            )
        )
    return out


def _alerts(session: Session, start: datetime, end: datetime) -> AlertSummary:
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
    rank = {"red": 0, "yellow": 1, "blue": 2}
    items = tuple(
        sorted(
            (
                AlertItem(k, lv, at, subj, summ, fam, st, bool(cr), det)
                for k, lv, at, det, subj, summ, fam, st, cr in rows
            ),
            key=lambda i: (rank.get(i.level, 3), i.at),
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


def _health(
    session: Session, start: datetime, end: datetime
) -> tuple[list[FailingSource], list[CrawlProblem], list[BrokenChannel]]:
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
    refs = _product_refs(session, {r[5] for r in failing if r[5] is not None})
    sources = sorted(
        (
            FailingSource(url, refs[pid][0].name if pid in refs else None, reason, n, last, status)
            for url, reason, n, last, status, pid in failing
        ),
        key=lambda f: (-f.count, f.url, f.reason),
    )
    runs = [
        CrawlProblem(spider, started, status, failures or 0, (errors or [None])[0] if errors else None)
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
    channels = [
        BrokenChannel(n, r, s)
        for n, r, s in session.execute(
            select(ChannelState.name, ChannelState.reason, ChannelState.since)
            .where(ChannelState.state == "broken")
            .order_by(ChannelState.name)
        )
    ]
    return sources, runs, channels


# ---------------------------------------------------------------- entry point


def local_range(date_from: date, date_to: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start of date_from, start of the day after date_to) in `tz`, as aware datetimes."""
    if date_to < date_from:
        raise ValueError(f"date_to {date_to} is before date_from {date_from}")
    start = datetime.combine(date_from, datetime.min.time(), tz)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tz)
    return start, end


def build_report_data(
    session: Session,
    day_start: datetime,
    day_end: datetime,
    tz: tzinfo,
    settings: ReportConfig | None = None,
    *,
    now: datetime | None = None,
) -> ReportData:
    """Everything the report shows for [day_start, day_end), read in one session."""
    if day_start.tzinfo is None or day_end.tzinfo is None:
        raise ValueError("day_start and day_end must be aware datetimes")
    cfg = settings or ReportConfig()
    now = now or datetime.now(tz)
    trend_start = day_end - timedelta(days=cfg.price_trend_days)
    review_start = day_end - timedelta(days=cfg.review_window_days)

    refs = _product_refs(session)
    latest = {r.product_id: r for r in session.execute(_latest_per_product(day_end))}
    changes = _observed_changes(session, day_start, day_end)
    charted = [c.product.id for c in changes.prices[: cfg.max_charts]]
    trends = _price_trends(session, charted, trend_start, day_end)
    prices = [
        PriceChange(c.product, c.old, c.new, c.pct, c.currency, c.changes, trends.get(c.product.id, ()))
        for c in changes.prices
    ]

    window, new = _review_stats(session, review_start, day_start, day_end)
    review_totals = dict(session.execute(select(Review.product_id, func.count()).group_by(Review.product_id)).all())
    shown_sentiment = sorted(set(window) | set(new), key=lambda p: (-window.get(p, (0,))[0], -new.get(p, (0,))[0], p))[
        : cfg.max_rows
    ]
    # Teardown products are chosen before tags are read, so one query loads the tags both sections need.
    top_ids = _top_products(cfg, refs, review_totals)
    teardown_ids = {p for ids in top_ids.values() for p in ids}
    tag_rows = _review_rows(session, set(shown_sentiment) | teardown_ids, review_start, day_end)
    sentiment = _sentiment(refs, window, new, tag_rows, shown_sentiment)
    teardowns = _teardowns(
        session, refs, top_ids, latest, review_totals, window, tag_rows, trend_start, day_end, review_start
    )

    adlaw = _adlaw(session, day_start, day_end)
    brands = _brands(session, cfg, tz, day_start, day_end)
    alerts = _alerts(session, day_start, day_end)
    failing, runs, channels = _health(session, day_start, day_end)

    active_ids = [pid for pid, (_, active) in refs.items() if active]
    new_total = sum(n for n, _ in new.values())
    headline = Headline(
        competitors=len({refs[p][0].competitor for p in active_ids}),
        products=len(active_ids),
        out_of_stock=sum(1 for p in active_ids if p in latest and latest[p].availability == "OutOfStock"),
        price_changes=len(prices),
        price_drops=sum(1 for c in prices if c.is_drop),
        price_rises=sum(1 for c in prices if not c.is_drop),
        promo_changes=len(changes.promos),
        stock_changes=len(changes.stock),
        adlaw_findings=len(adlaw),
        new_reviews=new_total,
        new_reviews_positive_share=_ratio(sum(p for _, p in new.values()), new_total),
        mentions=sum(b.total for b in brands),
        mentions_negative=sum(b.neg for b in brands),
        alerts_opened=alerts.opened,
        alerts_firing=alerts.firing_now,
        failing_sources=len({f.url for f in failing}),
        broken_channels=len(channels),
    )
    return ReportData(
        date_from=day_start.astimezone(tz).date(),
        date_to=(day_end - timedelta(microseconds=1)).astimezone(tz).date(),
        timezone=str(tz),
        day_start=day_start,
        day_end=day_end,
        generated_at=now,
        settings=cfg,
        headline=headline,
        price_changes=prices,
        promo_changes=changes.promos,
        adlaw=adlaw,
        stock_changes=changes.stock,
        sentiment=sentiment,
        teardowns=teardowns,
        brands=brands,
        alerts=alerts,
        failing_sources=failing,
        crawl_problems=runs,
        broken_channels=channels,
    )


__all__ = [
    "AdlawFinding",
    "AlertItem",
    "AlertSummary",
    "BrandMentions",
    "BrokenChannel",
    "CompetitorTeardown",
    "CrawlProblem",
    "FailingSource",
    "Headline",
    "MentionDay",
    "MentionItem",
    "PriceChange",
    "PricePoint",
    "ProductRef",
    "ProductSentiment",
    "PromoChange",
    "ReportData",
    "StockChange",
    "TagCount",
    "TeardownProduct",
    "build_report_data",
    "local_range",
]
