"""Queries of the alert engine: the stored facts its rules read, its memo per alert and its outbox.

Rule inputs are read for the window the rules look at and only the columns they use, because a brand
can have 100,000 stored mentions and an evaluation runs every few minutes (``alerts.facts`` turns these
rows into the rules' own fact types):

- mentions of a brand over the rules' horizon. Older than the event window a mention only counts
  (time, label, sentiment, authority), so its title and text are not even read; inside it, the text is
  read for crisis words and quoted as evidence;
- per active competitor product: its confirmed observations (the last ``keep_last`` and everything
  since ``since``), its reviews, and the ad-law hits of its latest observation.

The memo is the engine's small per-alert notebook (JSON: what the next evaluation must remember, such
as the previous 1-hour negative count); it lives in ``alerts.memo``.

The outbox functions write ``notifications`` rows from plain payloads; rendering stays in ``alerts``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import String, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from jingshao.storage.models import AdlawHit, Competitor, Mention, Observation, Product, Review
from jingshao.storage.queries import dated

# ---------------------------------------------------------------- rule inputs


@dataclass(frozen=True, slots=True)
class StoredMention:
    """A brand mention as the crisis rules read it. ``title``/``text``/``source``/``url`` are empty for
    mentions older than the event window (not read)."""

    posted_at: datetime
    sentiment: float | None
    negative_prob: float | None
    label: str | None
    authority: int | None
    source: str = ""
    url: str = ""
    title: str = ""
    text: str = ""


@dataclass(frozen=True)
class ActiveProduct:
    id: int
    name: str  # the configured name, else the URL
    url: str
    competitor: str


@dataclass(frozen=True, slots=True)
class StoredObservation:
    """A confirmed observation: what the page showed from ``first_seen_at`` until ``last_seen_at``."""

    first_seen_at: datetime
    last_seen_at: datetime
    price: Decimal | None
    original_price: Decimal | None
    in_stock: bool | None
    promo: str | None
    title: str | None
    final_price: Decimal | None
    basis: str | None


@dataclass(frozen=True, slots=True)
class StoredReview:
    posted_at: datetime | None
    label: str | None
    text: str


@dataclass(frozen=True)
class AdlawWord:
    word: str
    context: str


def _utc(value: str | datetime) -> datetime:
    """A stored UTC time as an aware datetime: SQLite hands back the naive ISO text it stores."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def brand_mentions(
    session: Session, brand: str, start: datetime, event_start: datetime, end: datetime
) -> list[StoredMention]:
    """Mentions of ``brand`` posted in (start, end], oldest first; text only for those after ``event_start``.

    Mentions whose time could not be read (``posted_at`` NULL) are in no window.
    """
    conn = session.connection()  # Core rows: no ORM result machinery per row (a third of the time)
    # The bulk of the rows: the raw column value, parsed here (the UTC type decorator costs as much as
    # the query itself at 100,000 rows).
    raw_posted = type_coerce(Mention.posted_at, String)
    light = conn.execute(
        select(raw_posted, Mention.sentiment, Mention.negative_prob, Mention.label, Mention.authority).where(
            Mention.brand == brand, Mention.posted_at > start, Mention.posted_at <= event_start
        )
    ).all()
    out = [StoredMention(_utc(at), s, pn, label, a) for at, s, pn, label, a in light]
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
        .where(Mention.brand == brand, Mention.posted_at > event_start, Mention.posted_at <= end)
        .order_by(Mention.posted_at)
    ).all()
    out += [
        StoredMention(dated(at), s, pn, label, a, source or "", url or "", title or "", text or "")
        for at, s, pn, label, a, source, url, title, text in recent
    ]
    return out


def active_products(session: Session) -> list[ActiveProduct]:
    """Every active competitor product, by id."""
    return [
        ActiveProduct(pid, name or url, url, competitor)
        for pid, name, url, competitor in session.execute(
            select(Product.id, Product.name, Product.url, Competitor.name)
            .join(Competitor, Competitor.id == Product.competitor_id)
            .where(Product.active.is_(True))
            .order_by(Product.id)
        )
    ]


def recent_observations(
    session: Session, now: datetime, keep_last: int, since: datetime
) -> dict[int, list[StoredObservation]]:
    """Per product, oldest first: its last ``keep_last`` confirmed observations first seen at or before
    ``now`` and every one first seen since ``since``. Voided observations are gone for the rules;
    suspect ones wait until the next crawl confirms them."""
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
        .where(Observation.first_seen_at <= now, Observation.voided_at.is_(None), Observation.status == "ok")
        .subquery()
    )
    rows = session.execute(
        select(ranked)
        .where(or_(ranked.c.rn <= keep_last, ranked.c.first_seen_at >= since))
        .order_by(ranked.c.product_id, ranked.c.first_seen_at)
    ).all()
    out: dict[int, list[StoredObservation]] = defaultdict(list)
    for pid, first, last, price, original, in_stock, promo, title, final, basis, _rn in rows:
        out[pid].append(StoredObservation(first, last, price, original, in_stock, promo, title, final, basis))
    return dict(out)


def recent_reviews(session: Session, since: datetime, now: datetime) -> dict[int, list[StoredReview]]:
    """Per product, reviews posted in (since, now], oldest first."""
    rows = session.execute(
        select(Review.product_id, Review.posted_at, Review.label, Review.text)
        .where(Review.posted_at > since, Review.posted_at <= now)
        .order_by(Review.product_id, Review.posted_at)
    ).all()
    out: dict[int, list[StoredReview]] = defaultdict(list)
    for pid, posted, label, text in rows:
        out[pid].append(StoredReview(posted, label, text or ""))
    return dict(out)


def latest_adlaw_hits(session: Session, now: datetime) -> dict[int, list[AdlawWord]]:
    """Ad-law words of each product's latest observation: the copy the competitor shows now."""
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
    out: dict[int, list[AdlawWord]] = defaultdict(list)
    for pid, word, context in rows:
        out[pid].append(AdlawWord(word, context))
    return dict(out)
