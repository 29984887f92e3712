"""Stored rows -> the plain inputs of the pure rules (:mod:`jingshao.alerts.rules`).

Only the columns the rules use are selected, and only for the window they look at, because a brand
can have 100,000 stored mentions and an evaluation runs every few minutes:

- mentions of a brand over the rules' horizon (the 7-day hourly baseline, same hour last week, the
  24 h growth window: about 8 days). Older than the event window (default 1 hour), a mention only
  counts — time, label, sentiment, authority — so its title and text are not even read; inside it,
  the text is read for crisis words and quoted as evidence;
- per competitor product: its observations (the last ``anomaly_history + 2`` and everything within
  the 划线价 window), its reviews over the review baseline plus window (15 days by default), and the
  ad-law hits of its latest observation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from jingshao.alerts.rules.competitor import CompetitorThresholds, ObservationFact, ProductRef, ReviewFact
from jingshao.alerts.rules.crisis import CrisisThresholds, MentionFact
from jingshao.storage.models import AdlawHit, Competitor, Mention, Observation, Product, Review

NEGATIVE = "neg"  # the label the mention model (and nlp.scorer.label_for for reviews) gives a negative text
HOUR = timedelta(hours=1)


def _utc(value: str | datetime) -> datetime:
    """A stored UTC time as an aware datetime: SQLite hands back the naive ISO text it stores."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _authority(value: int | None) -> int:
    return min(3, max(1, int(value or 1)))


def brand_mentions(session: Session, brand: str, now: datetime, thresholds: CrisisThresholds) -> list[MentionFact]:
    """Every mention of ``brand`` the crisis rules can see at ``now`` (oldest first).

    Unscored mentions (no label yet) count as neutral: they add to volume, not to negatives. A mention
    is negative when the mention model labelled it ``neg``. Mentions whose time could not be read
    (``posted_at`` NULL) are in no window.
    """
    start = now - timedelta(hours=thresholds.horizon_hours)
    event_start = now - timedelta(hours=max(thresholds.event_hours, 1))
    conn = session.connection()  # Core rows: no ORM result machinery per row (a third of the time)
    # The bulk of the rows: the raw column value, parsed below (the UTC type decorator costs as much as
    # the query itself at 100,000 rows).
    raw_posted = type_coerce(Mention.posted_at, String)
    light = conn.execute(
        select(raw_posted, Mention.sentiment, Mention.negative_prob, Mention.label, Mention.authority).where(
            Mention.brand == brand, Mention.posted_at > start, Mention.posted_at <= event_start
        )
    ).all()
    facts = [
        MentionFact(
            posted_at=_utc(at),
            sentiment=0.5 if s is None else s,
            negative_prob=pn,
            is_negative=label == NEGATIVE,
            authority=a if a in (1, 2, 3) else _authority(a),
            has_crisis_word=False,
        )
        for at, s, pn, label, a in light
    ]
    recent = conn.execute(
        select(
            Mention.posted_at,
            Mention.sentiment,
            Mention.negative_prob,
            Mention.label,
            Mention.authority,
            Mention.source,
            Mention.url,
            Mention.title,
            Mention.text,
        )
        .where(Mention.brand == brand, Mention.posted_at > event_start, Mention.posted_at <= now)
        .order_by(Mention.posted_at)
    ).all()
    facts += [
        MentionFact(
            posted_at=at,
            sentiment=0.5 if s is None else s,
            negative_prob=pn,
            is_negative=label == NEGATIVE,
            authority=_authority(a),
            source=source or "",
            url=url or "",
            title=title or "",
            text=text or "",
        )
        for at, s, pn, label, a, source, url, title, text in recent
    ]
    return facts


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
    products = session.execute(
        select(Product.id, Product.name, Product.url, Competitor.name)
        .join(Competitor, Competitor.id == Product.competitor_id)
        .where(Product.active.is_(True))
        .order_by(Product.id)
    ).all()
    if not products:
        return []
    final_basis = [
        pid
        for pid, name, url, competitor in products
        if thresholds.basis_for(ProductRef(id=pid, name=name or url, competitor=competitor, url=url)) == "final"
    ]
    observations = _observations(session, now, thresholds, final_basis)
    reviews = _reviews(session, now, thresholds)
    hits = _latest_adlaw_hits(session, now)
    return [
        ProductInputs(
            product=ProductRef(id=pid, name=name or url, competitor=competitor, url=url),
            observations=observations.get(pid, []),
            reviews=reviews.get(pid, []),
            adlaw_hits=hits.get(pid, []),
        )
        for pid, name, url, competitor in products
    ]


def _observations(
    session: Session, now: datetime, t: CompetitorThresholds, final_basis: Iterable[int] | None = None
) -> dict[int, list[ObservationFact]]:
    """Per product: the last ``anomaly_history + 2`` observations and all of the last ``original_price_days + 1``."""
    keep_last = t.anomaly_history + 2
    since = now - timedelta(days=t.original_price_days + 1)
    ranked = (
        select(
            Observation.product_id,
            Observation.first_seen_at,
            Observation.last_seen_at,
            Observation.price,
            Observation.original_price,
            Observation.in_stock,
            Observation.promo,
            Observation.title,
            Observation.final_price,
            Observation.basis,
            func.row_number()
            .over(
                partition_by=Observation.product_id, order_by=(Observation.first_seen_at.desc(), Observation.id.desc())
            )
            .label("rn"),
        )
        # Voided observations are gone for the rules; suspect ones wait until the next crawl confirms them.
        .where(Observation.first_seen_at <= now, Observation.voided_at.is_(None), Observation.status == "ok")
        .subquery()
    )
    rows = session.execute(
        select(ranked)
        .where(or_(ranked.c.rn <= keep_last, ranked.c.first_seen_at >= since))
        .order_by(ranked.c.product_id, ranked.c.first_seen_at)
    ).all()
    out: dict[int, list[ObservationFact]] = defaultdict(list)
    bases: dict[int, str | None] = {}
    final_keys = set(final_basis or ())
    for pid, first, last, price, original, in_stock, promo, title, final, basis, _rn in rows:
        if pid in bases and basis != bases[pid]:
            # Read a new way (selectors or extractor changed): a new baseline, nothing compares across it.
            out[pid] = []
        bases[pid] = basis
        if pid in final_keys and final is not None:
            price = final  # price_basis = "final": price alerts follow the 到手价
        out[pid].append(
            ObservationFact(
                at=first,
                price=price,
                original_price=original,
                in_stock=in_stock,
                promo=promo,
                title=title,
                last_seen=last,
            )
        )
    return out


def _reviews(session: Session, now: datetime, t: CompetitorThresholds) -> dict[int, list[ReviewFact]]:
    since = now - timedelta(days=t.review_baseline_days) - timedelta(hours=t.review_window_hours)
    rows = session.execute(
        select(Review.product_id, Review.posted_at, Review.label, Review.text)
        .where(Review.posted_at > since, Review.posted_at <= now)
        .order_by(Review.product_id, Review.posted_at)
    ).all()
    out: dict[int, list[ReviewFact]] = defaultdict(list)
    for pid, posted, label, text in rows:
        out[pid].append(ReviewFact(posted_at=posted, is_negative=label == NEGATIVE, text=text or ""))
    return out


def _latest_adlaw_hits(session: Session, now: datetime) -> dict[int, list[tuple[str, str]]]:
    """(word, context) of each product's latest observation: the copy the competitor shows now."""
    latest = (
        select(Observation.product_id, func.max(Observation.id).label("oid"))
        .where(Observation.first_seen_at <= now)
        .group_by(Observation.product_id)
        .subquery()
    )
    rows = session.execute(
        select(AdlawHit.product_id, AdlawHit.word, AdlawHit.context)
        .join(latest, latest.c.oid == AdlawHit.observation_id)
        .order_by(AdlawHit.product_id, AdlawHit.start)
    ).all()
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for pid, word, context in rows:
        out[pid].append((word, context))
    return out
