"""Stored facts -> the plain inputs of the pure rules (:mod:`jingshao.alerts.rules`).

The reads are storage's (:mod:`jingshao.storage.queries.alerts`: only the columns and the window the
rules look at, because a brand can have 100,000 stored mentions and an evaluation runs every few
minutes). This module picks the windows from the rules' thresholds and maps storage's rows to the
rules' fact types:

- for a brand, the hourly mention and negative counts over the rules' horizon (the 7-day hourly
  baseline, same hour last week, the 24 h growth window: about 8 days), from storage's per-minute
  counts, and the negative mentions of the event window (default 1 hour) in full: what the rules read,
  in O(hours) rows whatever the brand's volume (:func:`crisis_inputs`; :func:`brand_mentions` is the
  full read of every mention, which gives the rules the same result);
- per competitor product: its observations (the last ``anomaly_history + 2`` and everything within
  the 划线价 window), its reviews over the review baseline plus window (15 days by default), and the
  ad-law hits of its latest observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from jingshao.alerts.rules.competitor import CompetitorThresholds, ObservationFact, ProductRef, ReviewFact
from jingshao.alerts.rules.crisis import CrisisThresholds, HourlyCounts, MentionFact
from jingshao.core.formatting import shop_price
from jingshao.storage.queries import alerts as alert_queries
from jingshao.storage.queries import crisis_counts

NEGATIVE = "neg"  # the label the mention model (and nlp.scorer.label_for for reviews) gives a negative text
HOUR = timedelta(hours=1)


def _authority(value: int | None) -> int:
    return min(3, max(1, int(value or 1)))


def brand_mentions(session: Session, brand: str, now: datetime, thresholds: CrisisThresholds) -> list[MentionFact]:
    """Every mention of ``brand`` the crisis rules can see at ``now`` (oldest first): the full read, which
    the hourly counts of :func:`crisis_inputs` replace in an evaluation (kept for comparison and tools).

    Unscored mentions (no label yet) count as neutral: they add to volume, not to negatives. A mention
    is negative when the mention model labelled it ``neg``. Mentions whose time could not be read
    (``posted_at`` NULL) are in no window.
    """
    start = now - timedelta(hours=thresholds.horizon_hours)
    event_start = _event_start(now, thresholds)
    return _facts(alert_queries.brand_mentions(session, brand, start, event_start, now), event_start)


def crisis_inputs(
    session: Session, brand: str, now: datetime, thresholds: CrisisThresholds
) -> tuple[list[MentionFact], HourlyCounts]:
    """What :func:`~jingshao.alerts.rules.evaluate_crisis` needs for ``brand`` at ``now``, read in
    O(hours of the horizon): the hourly counts (from storage's per-minute counts) and the negative
    mentions of the event window, in full. The rules give the same result as on :func:`brand_mentions`."""
    event_start = _event_start(now, thresholds)
    rows = alert_queries.event_mentions(session, brand, event_start, now, label=NEGATIVE)
    counts = crisis_counts.hourly_counts(session, brand, now, thresholds.horizon_hours)
    return _facts(rows, event_start), HourlyCounts(counts.mentions, counts.negatives)


def _event_start(now: datetime, thresholds: CrisisThresholds) -> datetime:
    return now - timedelta(hours=max(thresholds.event_hours, 1))


def _facts(rows: Sequence[alert_queries.StoredMention], event_start: datetime) -> list[MentionFact]:
    return [
        MentionFact(
            posted_at=m.posted_at,
            sentiment=0.5 if m.sentiment is None else m.sentiment,
            negative_prob=m.negative_prob,
            is_negative=m.label == NEGATIVE,
            authority=m.authority if m.authority in (1, 2, 3) else _authority(m.authority),
            source=m.source,
            url=m.url,
            title=m.title,
            text=m.text,
            # older than the event window: no text was read, so no crisis word either
            has_crisis_word=None if m.posted_at > event_start else False,
        )
        for m in rows
    ]


def negatives_last_hour(mentions: Sequence[MentionFact], now: datetime) -> int:
    """Negatives in ``(now - 1h, now]``: the rules' current-hour bucket, remembered for "still rising"."""
    return sum(1 for m in mentions if m.is_negative and timedelta(0) <= now - m.posted_at < HOUR)


@dataclass(frozen=True)
class ProductInputs:
    """What :func:`~jingshao.alerts.rules.evaluate_competitor` needs for one product."""

    product: ProductRef
    observations: list[ObservationFact]
    reviews: list[ReviewFact]
    adlaw_hits: list[tuple[str, str]]


def product_inputs(session: Session, now: datetime, thresholds: CompetitorThresholds) -> list[ProductInputs]:
    """Inputs of every active competitor product, four queries in all (not four per product)."""
    products = alert_queries.active_products(session)
    if not products:
        return []
    refs = {p.id: ProductRef(id=p.id, name=p.name, competitor=p.competitor, url=p.url) for p in products}
    final_basis = {pid for pid, ref in refs.items() if thresholds.basis_for(ref) == "final"}
    since = now - timedelta(days=thresholds.original_price_days + 1)
    observations = alert_queries.recent_observations(session, now, thresholds.anomaly_history + 2, since)
    review_since = (
        now - timedelta(days=thresholds.review_baseline_days) - timedelta(hours=thresholds.review_window_hours)
    )
    reviews = alert_queries.recent_reviews(session, review_since, now)
    hits = alert_queries.latest_adlaw_hits(session, now)
    return [
        ProductInputs(
            product=ref,
            observations=observation_facts(observations.get(pid, []), final=pid in final_basis),
            reviews=[
                ReviewFact(posted_at=r.posted_at, is_negative=r.label == NEGATIVE, text=r.text)
                for r in reviews.get(pid, [])
            ],
            adlaw_hits=[(h.word, h.context) for h in hits.get(pid, [])],
        )
        for pid, ref in refs.items()
    ]


def current_value(o: ObservationFact) -> str:
    """What a product shows now, for a resolved notice: ``现价 ¥99.90，有货``."""
    price = "现价 未读到" if o.price is None else f"现价 {shop_price(o.price)}"
    stock = {True: "有货", False: "缺货", None: "库存未知"}[o.in_stock]
    return f"{price}，{stock}"


def observation_facts(rows: Sequence[alert_queries.StoredObservation], *, final: bool = False) -> list[ObservationFact]:
    """A product's stored observations (oldest first) as rule facts.

    A change of ``basis`` (selectors or extractor changed) starts a new baseline: nothing compares across
    it, so only the observations since the last change are kept. ``final``: the product's price alerts
    follow the 到手价 (``price_basis = "final"``) where one is known.
    """
    out: list[ObservationFact] = []
    basis: str | None = None
    for i, o in enumerate(rows):
        if i and o.basis != basis:
            out = []
        basis = o.basis
        out.append(
            ObservationFact(
                at=o.first_seen_at,
                price=o.final_price if final and o.final_price is not None else o.price,
                original_price=o.original_price,
                in_stock=o.in_stock,
                promo=o.promo,
                title=o.title,
                last_seen=o.last_seen_at,
            )
        )
    return out
