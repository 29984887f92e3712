"""Assembly of the daily report's figures: stored facts in, plain dataclasses out.

One function, `build_report_data`, reads everything a day's report needs through the report's
storage queries (`jingshao.storage.queries.report`: a fixed, small number of queries, aggregates in
SQL) and assembles them: tag summaries, selling points, the teardown, the brands' daily buckets in the
report's time zone and the headline. No SQL here; nothing formats text or touches a template either:
`render` does that, charts come from `charts`.

"The range" is [day_start, day_end): aware datetimes, normally one local day of the configured time
zone. Observations are change-only (see storage.models), so "what changed in the range" is the
first observation of each product as the range starts (the last one before it, or the first one in
it for a product first seen that day) against its last one in the range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from jingshao.storage.queries import report as q
from jingshao.storage.queries.report import (
    ALERT_KINDS,
    AdlawFinding,
    AlertItem,
    AlertSummary,
    BrokenChannel,
    CrawlProblem,
    FailingSource,
    MentionItem,
    PriceChange,
    PricePoint,
    ProductRef,
    PromoChange,
    StockChange,
)

from .settings import ReportConfig

if TYPE_CHECKING:  # the nlp package loads jieba lazily; the report imports it only when it builds
    from jingshao.nlp.mindmap import MindMap

# ---------------------------------------------------------------- result types
# Query results (ProductRef, PriceChange, AlertSummary ...) are storage's (storage.queries.report),
# re-exported here; the types below are what the report assembles from them.


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
class BrandMentions:
    brand: str
    days: tuple[MentionDay, ...]  # the trend window, oldest first, zero-filled
    total: int  # in the range
    pos: int
    neg: int
    mean: float | None
    negative_examples: tuple[MentionItem, ...] = ()


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
    # Issue 12: price-compliance risks found in the period, and competitors with blocked pages (per outcome).
    compliance: list[Any] = field(default_factory=list)
    blocked_competitors: list[Any] = field(default_factory=list)

    @property
    def is_single_day(self) -> bool:
        return self.date_from == self.date_to


# ---------------------------------------------------------------- assembly


def _ratio(part: int | None, whole: int | None) -> float | None:
    return (part or 0) / whole if whole else None


def _tag_counts(rows: Sequence[q.TaggedReview], limit: int) -> tuple[tuple[TagCount, ...], tuple[TagCount, ...]]:
    """Top pros and cons over tagged reviews, via nlp.aggregate_tags."""
    from jingshao.core.tags import tag_from_row
    from jingshao.nlp import aggregate_tags

    summary = aggregate_tags(
        (r.text, [tag_from_row(t) for t in r.tags], 0.5 if r.sentiment is None else r.sentiment) for r in rows if r.tags
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


_NO_WINDOW = q.ReviewWindowStats(0, 0, 0, None)
_NO_NEW = q.NewReviewStats(0, 0)


def _sentiment_order(window: dict[int, q.ReviewWindowStats], new: dict[int, q.NewReviewStats]) -> list[int]:
    """Most reviewed in the window first, then most new reviews."""
    return sorted(
        set(window) | set(new),
        key=lambda p: (-window.get(p, _NO_WINDOW).reviews, -new.get(p, _NO_NEW).reviews, p),
    )


def _sentiment(
    refs: dict[int, q.CatalogProduct],
    window: dict[int, q.ReviewWindowStats],
    new: dict[int, q.NewReviewStats],
    tag_rows: dict[int, list[q.TaggedReview]],
    shown: list[int],
) -> list[ProductSentiment]:
    out = []
    for pid in _sentiment_order(window, new):
        if pid not in refs:
            continue
        w = window.get(pid, _NO_WINDOW)
        pros, cons = _tag_counts(tag_rows.get(pid, []), 3) if pid in shown else ((), ())
        out.append(
            ProductSentiment(
                refs[pid].ref,
                w.reviews,
                new.get(pid, _NO_NEW).reviews,
                _ratio(w.positive, w.reviews),
                _ratio(w.negative, w.reviews),
                w.mean,
                pros,
                cons,
            )
        )
    return out


def _by_competitor(refs: dict[int, q.CatalogProduct]) -> dict[str, list[int]]:
    by_comp: dict[str, list[int]] = defaultdict(list)
    for pid, p in refs.items():
        if p.active:
            by_comp[p.ref.competitor].append(pid)
    return by_comp


def _top_products(
    cfg: ReportConfig, refs: dict[int, q.CatalogProduct], review_totals: dict[int, int]
) -> dict[str, list[int]]:
    """The teardown's competitors (most reviewed first) and each one's most reviewed active products."""
    by_comp = _by_competitor(refs)
    order = sorted(by_comp, key=lambda c: (-sum(review_totals.get(p, 0) for p in by_comp[c]), c))
    return {
        c: sorted(by_comp[c], key=lambda p: (-review_totals.get(p, 0), p))[: cfg.top_products]
        for c in order[: cfg.max_competitors]
    }


#: Aspects per competitor in the report's mind map (the most talked about first).
MIND_MAP_ASPECTS = 6


def _mind_maps(
    rows: dict[int, list[q.DatedReview]], by_comp: dict[str, list[int]], end: datetime
) -> dict[str, MindMap]:
    from jingshao.core.tags import tag_from_row
    from jingshao.nlp.mindmap import MindMapReview, build_mind_map

    out = {}
    for comp, pids in by_comp.items():
        reviews = [
            MindMapReview(r.text, [tag_from_row(t) for t in r.tags], r.at) for pid in pids for r in rows.get(pid, [])
        ]
        if reviews:
            out[comp] = build_mind_map(reviews, competitor=comp, top=3, aspects=MIND_MAP_ASPECTS, now=end)
    return out


def _teardowns(
    refs: dict[int, q.CatalogProduct],
    top_ids: dict[str, list[int]],
    latest: dict[int, q.ObservedState],
    review_totals: dict[int, int],
    window: dict[int, q.ReviewWindowStats],
    tag_rows: dict[int, list[q.TaggedReview]],
    bands: dict[int, q.PriceBand],
    copy: dict[int, list[str]],
    maps: dict[str, MindMap],
) -> list[CompetitorTeardown]:
    from jingshao.nlp.keywords import selling_phrases

    by_comp = _by_competitor(refs)
    out = []
    for comp in top_ids:
        pids = by_comp[comp]
        current = [latest[p] for p in pids if p in latest]
        prices = [r.price for r in current if r.price is not None]
        comp_copy = [t for r in current for t in (r.title, r.promo) if t]
        top = []
        for pid in top_ids[comp]:
            row = latest.get(pid)
            band = bands.get(pid, q.PriceBand(None, None))
            w = window.get(pid, _NO_WINDOW)
            pros, cons = _tag_counts(tag_rows.get(pid, []), 3)
            points = tuple(w for w, _ in selling_phrases(copy.get(pid, []), topk=5))
            top.append(
                TeardownProduct(
                    refs[pid].ref,
                    row.price if row else None,
                    band.low,
                    band.high,
                    row.availability if row else None,
                    row.promo if row else None,
                    review_totals.get(pid, 0),
                    _ratio(w.positive, w.reviews),
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
                tuple(w for w, _ in selling_phrases(comp_copy, topk=8)),
                tuple(top),
                maps.get(comp),
            )
        )
    return out


def _brands(session: Session, cfg: ReportConfig, tz: tzinfo, start: datetime, end: datetime) -> list[BrandMentions]:
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    first_day = last_day - timedelta(days=cfg.mention_trend_days - 1)
    trend_start = min(datetime.combine(first_day, datetime.min.time(), tz), start)
    per_day: dict[str, dict[date, list[q.MentionPoint]]] = defaultdict(lambda: defaultdict(list))
    in_range: dict[str, list[q.MentionPoint]] = defaultdict(list)
    for m in q.mention_points(session, trend_start, end):
        per_day[m.brand][m.posted_at.astimezone(tz).date()].append(m)
        if m.posted_at >= start:
            in_range[m.brand].append(m)
    brands = sorted(per_day, key=lambda b: (-len(in_range.get(b, [])), -sum(map(len, per_day[b].values())), b))
    out = []
    for brand in brands[: cfg.max_brands]:
        days = []
        for i in range(cfg.mention_trend_days):
            d = first_day + timedelta(days=i)
            items = per_day[brand].get(d, [])
            scores = [m.sentiment for m in items if m.sentiment is not None]
            days.append(
                MentionDay(
                    d,
                    len(items),
                    sum(1 for m in items if m.label == "pos"),
                    sum(1 for m in items if m.label in ("neu", "neutral")),  # neutral: legacy rows
                    sum(1 for m in items if m.label == "neg"),
                    sum(scores) / len(scores) if scores else None,
                )
            )
        items = in_range.get(brand, [])
        scores = [m.sentiment for m in items if m.sentiment is not None]
        out.append(
            BrandMentions(
                brand,
                tuple(days),
                len(items),
                sum(1 for m in items if m.label == "pos"),
                sum(1 for m in items if m.label == "neg"),
                sum(scores) / len(scores) if scores else None,
                tuple(q.negative_mentions(session, brand, start, end, limit=3)),
            )
        )
    return out


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

    refs = q.catalog(session)
    latest = q.latest_states(session, day_end)
    changes = q.observed_changes(session, day_start, day_end)
    charted = [c.product.id for c in changes.prices[: cfg.max_charts]]
    trends = q.price_trends(session, charted, trend_start, day_end)
    prices = [
        PriceChange(c.product, c.old, c.new, c.pct, c.currency, c.changes, trends.get(c.product.id, ()))
        for c in changes.prices
    ]

    window = q.review_window_stats(session, review_start, day_end)
    new = q.new_review_stats(session, day_start, day_end)
    review_totals = q.review_totals(session)
    shown_sentiment = _sentiment_order(window, new)[: cfg.max_rows]
    # Teardown products are chosen before tags are read, so one query loads the tags both sections need.
    top_ids = _top_products(cfg, refs, review_totals)
    teardown_ids = [p for ids in top_ids.values() for p in ids]
    tag_rows = q.tagged_reviews(session, set(shown_sentiment) | set(teardown_ids), review_start, day_end)
    sentiment = _sentiment(refs, window, new, tag_rows, shown_sentiment)
    by_comp = _by_competitor(refs)
    shown_competitors = {c: by_comp[c] for c in top_ids}
    mind_map_ids = [p for ids in shown_competitors.values() for p in ids]
    teardowns = _teardowns(
        refs,
        top_ids,
        latest,
        review_totals,
        window,
        tag_rows,
        q.price_bands(session, teardown_ids, trend_start, day_end),
        q.product_copy(session, teardown_ids, trend_start, day_end),
        _mind_maps(q.dated_reviews(session, mind_map_ids, review_start, day_end), shown_competitors, day_end),
    )

    adlaw = q.adlaw_findings(session, day_start, day_end)
    brands = _brands(session, cfg, tz, day_start, day_end)
    alerts = q.alert_summary(session, day_start, day_end)
    failing = q.failing_sources(session, day_start, day_end)
    runs = q.crawl_problems(session, day_start, day_end)
    channels = q.broken_channels(session)
    compliance, blocked = _crawl_and_compliance(session, day_start, day_end)

    active_ids = [pid for pid, p in refs.items() if p.active]
    new_total = sum(n.reviews for n in new.values())
    headline = Headline(
        competitors=len({refs[p].ref.competitor for p in active_ids}),
        products=len(active_ids),
        out_of_stock=sum(1 for p in active_ids if p in latest and latest[p].availability == "OutOfStock"),
        price_changes=len(prices),
        price_drops=sum(1 for c in prices if c.is_drop),
        price_rises=sum(1 for c in prices if not c.is_drop),
        promo_changes=len(changes.promos),
        stock_changes=len(changes.stock),
        adlaw_findings=len(adlaw),
        new_reviews=new_total,
        new_reviews_positive_share=_ratio(sum(n.positive for n in new.values()), new_total),
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
        promo_changes=list(changes.promos),
        adlaw=adlaw,
        stock_changes=list(changes.stock),
        sentiment=sentiment,
        teardowns=teardowns,
        brands=brands,
        alerts=alerts,
        failing_sources=failing,
        crawl_problems=runs,
        broken_channels=channels,
        compliance=compliance,
        blocked_competitors=blocked,
    )


def _crawl_and_compliance(session: Session, day_start: datetime, day_end: datetime) -> tuple[list[Any], list[Any]]:
    """Issue 12: the price-compliance findings of the period (a short section) and the competitors whose pages
    were blocked in it (pages changed / unchanged / failed / blocked per competitor)."""
    from jingshao.alerts.audit import audit_prices
    from jingshao.storage.blocking import competitor_outcomes_between

    days = max(1, -(-int((day_end - day_start).total_seconds()) // 86400))
    findings = [f for f in audit_prices(session, days=days, now=day_end) if day_start <= f.at < day_end]
    outcomes = competitor_outcomes_between(session, day_start, day_end)
    blocked = sorted((o for o in outcomes.values() if o.blocked), key=lambda o: (-o.blocked, o.competitor))
    return findings, blocked


__all__ = [
    "ALERT_KINDS",
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
