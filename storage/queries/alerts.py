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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, func, insert, or_, select, type_coerce, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from jingshao.storage.models import (
    AdlawHit,
    Alert,
    AlertEvent,
    Competitor,
    Mention,
    Notification,
    Observation,
    Product,
    Review,
)
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
    return out + event_mentions(session, brand, event_start, end)


def event_mentions(
    session: Session, brand: str, start: datetime, end: datetime, *, label: str | None = None
) -> list[StoredMention]:
    """Mentions of ``brand`` posted in (start, end] with every column the rules read, oldest first
    (ties in the order they were stored); only those labelled ``label`` when one is given."""
    where = [Mention.brand == brand, Mention.posted_at > start, Mention.posted_at <= end]
    if label is not None:
        where.append(Mention.label == label)
    recent = (
        session.connection()
        .execute(
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
            .where(*where)
            .order_by(Mention.posted_at, Mention.id)
        )
        .all()
    )
    return [
        StoredMention(dated(at), s, pn, decision, a, source or "", url or "", title or "", text or "")
        for at, s, pn, decision, a, source, url, title, text in recent
        if at is not None  # never, given the range; it tells the type checker
    ]


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


# ---------------------------------------------------------------- alert state


@dataclass
class AlertRecord:
    """An alert as the engine's state machine works on it: a plain value (mutable: the state machine
    moves it), read with :func:`firing_alerts` / :func:`resting_alerts`, written with :func:`save_alerts`.

    ``memo`` is the engine's notebook for the alert (see the module docstring). ``id`` is None until the
    record is first saved (:func:`insert_alert`).
    """

    fingerprint: str
    family: str
    subject: str
    subject_key: str
    level: str
    max_level: str
    state: str  # firing | resolved
    rule: str
    summary: str
    facts: list[list[str]]
    evidence: list[list[str]]
    is_crisis: bool
    started_at: datetime
    level_since: datetime
    last_active_at: datetime
    last_notified_at: datetime | None = None
    clear_windows: int = 0
    resolved_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    memo: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


_RECORD_FIELDS = tuple(f.name for f in fields(AlertRecord))


def _record(a: Alert) -> AlertRecord:
    values = {name: getattr(a, name) for name in _RECORD_FIELDS}
    values["facts"], values["evidence"] = list(a.facts or []), list(a.evidence or [])
    values["memo"] = dict(a.memo or {})
    values["is_crisis"] = bool(a.is_crisis)
    return AlertRecord(**values)


def _columns(r: AlertRecord) -> dict[str, Any]:
    values = {name: getattr(r, name) for name in _RECORD_FIELDS if name != "id"}
    values["memo"] = r.memo or None
    return values


def firing_alerts(session: Session) -> dict[str, AlertRecord]:
    """Every firing alert, by fingerprint."""
    return {a.fingerprint: _record(a) for a in session.scalars(select(Alert).where(Alert.state == "firing"))}


def resting_alerts(session: Session, fingerprints: Iterable[str]) -> dict[str, AlertRecord]:
    """Alerts with these fingerprints that are not firing (resolved: firing again reopens them)."""
    fps = list(fingerprints)
    if not fps:
        return {}
    return {
        a.fingerprint: _record(a)
        for a in session.scalars(select(Alert).where(Alert.fingerprint.in_(fps), Alert.state != "firing"))
    }


def insert_alert(session: Session, record: AlertRecord) -> int:
    """Insert a new alert; sets and returns ``record.id``."""
    record.id = session.execute(insert(Alert).values(**_columns(record)).returning(Alert.id)).scalar_one()
    return record.id


def save_alerts(session: Session, records: Iterable[AlertRecord]) -> None:
    """Write the records' current values (new ones are inserted); one statement for all updates."""
    rows = []
    for r in records:
        if r.id is None:
            insert_alert(session, r)
        else:
            rows.append({"id": r.id, **_columns(r)})
    if rows:
        session.execute(update(Alert), rows)


def add_event(session: Session, alert_id: int, kind: str, level: str, at: datetime, detail: str | None = None) -> None:
    """One row of an alert's history (opened, escalated, resolved, silenced ...)."""
    session.execute(insert(AlertEvent).values(alert_id=alert_id, kind=kind, level=level, at=at, detail=detail))


# pg_advisory_xact_lock key serialising evaluations on PostgreSQL ("jsev"; the report ledger uses "jing").
EVALUATION_LOCK_KEY = 0x6A736576


def lock_evaluations(session: Session) -> None:
    """Serialise evaluations on PostgreSQL (a transaction-scoped advisory lock, released at commit or
    rollback); SQLite's ``BEGIN IMMEDIATE`` already holds the database's write lock for the whole transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVALUATION_LOCK_KEY})


# ---------------------------------------------------------------- outbox


@dataclass(frozen=True)
class NewNotification:
    """A notification to queue: rendered by ``alerts`` into a JSON ``payload``."""

    alert_id: int | None
    channel: str
    kind: str
    level: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class QueuedNotification:
    """A pending notification in the outbox (``group``: the payload's group key)."""

    id: int
    channel: str
    group: str | None
    payload: dict[str, Any]


def queue_notification(session: Session, n: NewNotification) -> QueuedNotification:
    """A ``pending`` outbox row, due at once."""
    row_id = session.execute(
        insert(Notification)
        .values(
            alert_id=n.alert_id,
            channel=n.channel,
            kind=n.kind,
            level=n.level,
            status="pending",
            attempts=0,
            next_attempt_at=n.created_at,
            created_at=n.created_at,
            payload=n.payload,
        )
        .returning(Notification.id)
    ).scalar_one()
    return QueuedNotification(row_id, n.channel, n.payload.get("group"), n.payload)


def groupable_notifications(session: Session, channels: Iterable[str], since: datetime) -> list[QueuedNotification]:
    """Pending notifications of these channels never tried and created since ``since``, oldest first,
    locked (``FOR UPDATE`` on PostgreSQL) so a dispatcher cannot send one while it is being merged."""
    rows = session.execute(
        select(Notification.id, Notification.channel, Notification.payload)
        .where(
            Notification.status == "pending",
            Notification.attempts == 0,
            Notification.created_at >= since,
            Notification.channel.in_(set(channels)),
        )
        .order_by(Notification.id)
        .with_for_update()
    ).all()
    return [QueuedNotification(i, ch, (p or {}).get("group"), p or {}) for i, ch, p in rows]


def merge_notifications(session: Session, member_ids: Sequence[int], message: NewNotification) -> int:
    """Queue ``message`` and mark the members ``merged`` into it; returns the message's id."""
    merged = queue_notification(session, message)
    session.execute(
        update(Notification)
        .where(Notification.id.in_(list(member_ids)))
        .values(status="merged", merged_into=merged.id)
        .execution_options(synchronize_session=False)
    )
    return merged.id
