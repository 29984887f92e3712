"""Alert queries and commands for the CLI (`jingshao alerts ...`, `jingshao channels ...`) and the report.

Every function takes a `Session` already inside a transaction (see `Database.session`). Reads return
plain dataclasses, so the CLI prints them without touching ORM objects after the session closes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, bindparam, case, func, select
from sqlalchemy.orm import Session

from .models import Alert, AlertEvent, ChannelState, Notification, Silence, utcnow
from .queries import read, read_rows
from .queries.paging import page_statements, read_page

LEVEL_ORDER = {"red": 0, "yellow": 1, "blue": 2}
HIDDEN_EVENTS = ("memo",)  # the engine's bookkeeping rows of versions before migration 0011, not history


class AlertNotFound(LookupError):
    """No alert (or silence) with that id."""


@dataclass(frozen=True)
class AlertRow:
    id: int
    state: str
    level: str
    max_level: str
    since: datetime  # started_at while firing, resolved_at once resolved
    subject: str
    family: str
    rule: str
    summary: str
    acked_by: str | None
    last_notified_at: datetime | None


@dataclass(frozen=True)
class EventRow:
    at: datetime
    kind: str
    level: str
    detail: str | None


@dataclass(frozen=True)
class NotificationRow:
    id: int
    channel: str
    kind: str
    level: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None
    platform_code: str | None
    merged_into: int | None


@dataclass(frozen=True)
class AlertDetail:
    alert: AlertRow
    fingerprint: str
    subject_key: str
    started_at: datetime
    level_since: datetime
    resolved_at: datetime | None
    acked_at: datetime | None
    facts: list[tuple[str, str]]
    evidence: list[tuple[str, str]]
    events: list[EventRow]
    notifications: list[NotificationRow]


@dataclass(frozen=True)
class SilenceRow:
    id: int
    matcher: str
    author: str
    reason: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.ended_at is None and self.created_at <= now < self.expires_at


@dataclass(frozen=True)
class OutboxDepth:
    channel: str
    status: str
    count: int
    oldest: datetime | None  # oldest created_at among them


@dataclass(frozen=True)
class ChannelHealth:
    name: str
    state: str  # ok | failing (retry budget used up: its notifications are parked) | broken (permanent error)
    reason: str | None
    since: datetime
    last_sent_at: datetime | None
    pending: int


def _row(a: Any) -> AlertRow:
    """An alert (its ORM object, or a row of the same named columns) as shown."""
    return _column_row([getattr(a, c.key) for c in _ALERT_ROW_COLUMNS])


def _column_row(r: Any) -> AlertRow:
    """``_row`` of a row of ``_ALERT_ROW_COLUMNS`` (in their order; a page row's total may follow),
    unpacked by position: a SQLAlchemy Row's attribute lookup by name costs ~0.25 us a column, the
    12 of them most of ``_row``'s time on a list of alerts."""
    id_, state, level, max_level, started_at, resolved_at, subject, family, rule, summary, acked, notified = r[:12]
    since = resolved_at if state == "resolved" and resolved_at else started_at
    return AlertRow(id_, state, level, max_level, since, subject, family, rule, summary, acked, notified)


# What an AlertRow shows (and `_row` reads), as plain columns.
_ALERT_ROW_COLUMNS: tuple[Any, ...] = (
    Alert.id,
    Alert.state,
    Alert.level,
    Alert.max_level,
    Alert.started_at,
    Alert.resolved_at,
    Alert.subject,
    Alert.family,
    Alert.rule,
    Alert.summary,
    Alert.acked_by,
    Alert.last_notified_at,
)


@functools.cache
def _list_alerts_stmt(by_state: bool, by_level: bool, by_family: bool) -> Select:
    """The alert list's statement for one set of filters, built once (bound values and limit)."""
    q = select(*_ALERT_ROW_COLUMNS)
    if by_state:
        q = q.where(Alert.state == bindparam("state"))
    if by_level:
        q = q.where(Alert.max_level == bindparam("level"))
    if by_family:
        q = q.where(Alert.family == bindparam("family"))
    return q.order_by(Alert.started_at.desc(), Alert.id.desc()).limit(bindparam("limit", type_=Integer))


def list_alerts(
    session: Session,
    *,
    state: str | None = "firing",
    level: str | None = None,
    family: str | None = None,
    limit: int = 200,
) -> list[AlertRow]:
    """Alerts, most severe and most recent first. ``state=None``: firing and resolved (plain columns)."""
    params = {"state": state, "level": level, "family": family, "limit": limit}
    rows = read(session, _list_alerts_stmt(bool(state), bool(level), bool(family)), params).all()
    return sorted(map(_column_row, rows), key=lambda r: (r.state != "firing", LEVEL_ORDER.get(r.max_level, 9)))


@functools.cache
def _alert_page_stmts(by_state: bool, by_level: bool, by_family: bool) -> tuple[Select, Select]:
    """(one page of the alert list in ``list_alerts``'s order with the total, the total alone), for
    one set of filters, built once: the order is ``list_alerts``' sort (firing first, then by
    level) in SQL ahead of its statement's (newest first), so a page reads only its rows."""
    q = _list_alerts_stmt(by_state, by_level, by_family).limit(None)
    level_rank = case(*((Alert.max_level == name, rank) for name, rank in LEVEL_ORDER.items()), else_=9)
    ordered = q.order_by(None).order_by(
        case((Alert.state == "firing", 0), else_=1), level_rank, Alert.started_at.desc(), Alert.id.desc()
    )
    return page_statements(ordered)


def page_alerts(
    session: Session,
    *,
    state: str | None = "firing",
    level: str | None = None,
    family: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AlertRow], int]:
    """(a page of ``list_alerts(...)``: its rows ``offset`` to ``offset + limit``, the number of all
    matching alerts), paged in SQL: one statement (the count rides along) instead of every alert."""
    stmts = _alert_page_stmts(bool(state), bool(level), bool(family))
    params = {"state": state, "level": level, "family": family}
    rows, total = read_page(session, stmts, params, limit, offset)
    return [_column_row(a) for a in rows], total


def _pairs(value: Any) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in (value or [])]


# Core queries of just the shown columns: the alert page reads no ORM objects (and no payloads).
_NOTIFICATION_COLUMNS: tuple[Any, ...] = (
    Notification.id,
    Notification.channel,
    Notification.kind,
    Notification.level,
    Notification.status,
    Notification.attempts,
    Notification.created_at,
    Notification.sent_at,
    Notification.next_attempt_at,
    Notification.last_error,
    Notification.platform_code,
    Notification.merged_into,
)
_ALERT_DETAIL_COLUMNS: tuple[Any, ...] = (
    *_ALERT_ROW_COLUMNS,
    Alert.fingerprint,
    Alert.subject_key,
    Alert.level_since,
    Alert.acked_at,
    Alert.facts,
    Alert.evidence,
)


# The alert page's statements, built once with bound parameters (building a select cost about as
# much as running one of these small reads).
_OWN_NOTIFICATIONS = (
    select(*_NOTIFICATION_COLUMNS).where(Notification.alert_id == bindparam("aid")).order_by(Notification.id)
)
_ALERT_DETAIL = select(*_ALERT_DETAIL_COLUMNS).where(Alert.id == bindparam("aid"))
_STARTED_AT, _RESOLVED_AT = (
    next(i for i, c in enumerate(_ALERT_ROW_COLUMNS) if c is column) for column in (Alert.started_at, Alert.resolved_at)
)
_ALERT_EVENTS = (
    select(AlertEvent.at, AlertEvent.kind, AlertEvent.level, AlertEvent.detail)
    # kind != each hidden kind, not NOT IN (...): an IN list is rendered anew for every execution
    # (read_rows then takes SQLAlchemy's path); the same rows (kind is NOT NULL)
    .where(AlertEvent.alert_id == bindparam("aid"), *(AlertEvent.kind != kind for kind in HIDDEN_EVENTS))
    .order_by(AlertEvent.at, AlertEvent.id)
)
_SILENCE_COLUMNS = (
    Silence.id,
    Silence.matcher,
    Silence.author,
    Silence.reason,
    Silence.created_at,
    Silence.expires_at,
    Silence.ended_at,
)
_ALL_SILENCES = select(*_SILENCE_COLUMNS).order_by(Silence.id)
_ACTIVE_SILENCES = _ALL_SILENCES.where(Silence.ended_at.is_(None), Silence.expires_at > bindparam("now"))


def alert_notifications(session: Session, alert_id: int) -> list[NotificationRow]:
    """The alert's own notifications plus the merged messages that carried them, by id."""
    own = [NotificationRow(*r) for r in read_rows(session, _OWN_NOTIFICATIONS, {"aid": alert_id})]
    carriers: set[int] = {n.merged_into for n in own if n.merged_into}
    seen = {n.id for n in own}
    while carriers - seen:  # a merge may itself be merged (group message, then an overflow summary)
        fetched = [
            NotificationRow(*r)
            for r in session.execute(select(*_NOTIFICATION_COLUMNS).where(Notification.id.in_(carriers - seen)))
        ]
        seen |= {n.id for n in fetched}
        own += fetched
        carriers |= {n.merged_into for n in fetched if n.merged_into}
    return sorted(own, key=lambda n: n.id)


def get_alert(session: Session, alert_id: int) -> AlertDetail:
    found = read_rows(session, _ALERT_DETAIL, {"aid": alert_id})
    if not found:
        raise AlertNotFound(f"no alert #{alert_id}; see `jingshao alerts list --all`")
    (a,) = found  # by the primary key: one row at most
    fingerprint, subject_key, level_since, acked_at, alert_facts, evidence = a[len(_ALERT_ROW_COLUMNS) :]
    events = read_rows(session, _ALERT_EVENTS, {"aid": alert_id})
    return AlertDetail(
        alert=_column_row(a),
        fingerprint=fingerprint,
        subject_key=subject_key,
        started_at=a[_STARTED_AT],
        level_since=level_since,
        resolved_at=a[_RESOLVED_AT],
        acked_at=acked_at,
        facts=_pairs(alert_facts),
        evidence=_pairs(evidence),
        events=[EventRow(*e) for e in events],
        notifications=alert_notifications(session, alert_id),
    )


def ack(session: Session, alert_id: int, author: str, now: datetime | None = None) -> AlertRow:
    """Acknowledge: no more repeats until the alert escalates (escalation clears the acknowledgement)."""
    if not author.strip():
        raise ValueError("ack needs an author (who takes care of it)")
    now = now or utcnow()
    a = session.get(Alert, alert_id)
    if a is None:
        raise AlertNotFound(f"no alert #{alert_id}; see `jingshao alerts list`")
    if a.state != "firing":
        raise ValueError(f"alert #{alert_id} is {a.state}; only a firing alert can be acknowledged")
    a.acked_by, a.acked_at = author.strip(), now
    session.add(AlertEvent(alert_id=a.id, kind="acked", level=a.level, at=now, detail=author.strip()))
    return _row(a)


def add_silence(
    session: Session, matcher: str, author: str, reason: str, expires_at: datetime, now: datetime | None = None
) -> SilenceRow:
    """Silence every alert whose fingerprint, subject key (``brand:蜜橙``, ``product:12``) or family
    (``price_drop``) equals ``matcher`` until ``expires_at``. Notices are recorded, not sent."""
    now = now or utcnow()
    matcher, author, reason = matcher.strip(), author.strip(), reason.strip()
    if not matcher:
        raise ValueError("a silence needs a matcher: an alert fingerprint, a subject key (brand:NAME) or a family")
    if not author or not reason:
        raise ValueError("a silence needs an author and a reason")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    if expires_at <= now:
        raise ValueError(f"expires_at {expires_at.isoformat()} is not in the future")
    s = Silence(matcher=matcher, author=author, reason=reason, created_at=now, expires_at=expires_at)
    session.add(s)
    session.flush()
    return _silence(s)


def _silence(s: Silence) -> SilenceRow:
    return SilenceRow(s.id, s.matcher, s.author, s.reason, s.created_at, s.expires_at, s.ended_at)


def unsilence(session: Session, silence_id: int, now: datetime | None = None) -> SilenceRow:
    s = session.get(Silence, silence_id)
    if s is None:
        raise AlertNotFound(f"no silence #{silence_id}")
    if s.ended_at is None:
        s.ended_at = now or utcnow()
    return _silence(s)


def list_silences(session: Session, *, active_only: bool = True, now: datetime | None = None) -> list[SilenceRow]:
    if active_only:
        rows = read_rows(session, _ACTIVE_SILENCES, {"now": now or utcnow()})
    else:
        rows = read_rows(session, _ALL_SILENCES)
    return [SilenceRow(*r) for r in rows]


def outbox_depth(session: Session) -> list[OutboxDepth]:
    """Notifications per channel and status (pending, sent, merged, dead)."""
    rows = session.execute(
        select(Notification.channel, Notification.status, func.count(), func.min(Notification.created_at))
        .group_by(Notification.channel, Notification.status)
        .order_by(Notification.channel, Notification.status)
    ).all()
    return [OutboxDepth(ch, st, n, oldest) for ch, st, n, oldest in rows]


def channel_health(session: Session, names: list[str] | None = None) -> list[ChannelHealth]:
    """Every known channel's state (``names`` adds configured channels never used yet, as ok)."""
    states = {c.name: c for c in session.scalars(select(ChannelState))}
    pending = dict(
        session.execute(
            select(Notification.channel, func.count())
            .where(Notification.status == "pending")
            .group_by(Notification.channel)
        ).all()
    )
    out = []
    for name in sorted(set(states) | set(names or []) | set(pending)):
        st = states.get(name)
        out.append(
            ChannelHealth(
                name,
                st.state if st else "ok",
                st.reason if st else None,
                st.since if st else utcnow(),
                st.last_sent_at if st else None,
                pending.get(name, 0),
            )
        )
    return out


def broken_channels(session: Session) -> list[ChannelHealth]:
    """Channels that need someone: ``broken`` (permanent error) and ``failing`` (notifications parked)."""
    return [c for c in channel_health(session) if c.state != "ok"]


def memo_of(session: Session, alert_id: int) -> dict[str, Any]:
    """The engine's memo for an alert (tests and debugging)."""
    return dict(session.scalar(select(Alert.memo).where(Alert.id == alert_id)) or {})


@dataclass(frozen=True)
class ParkedLine:
    """A channel's parked notifications: how many, and the oldest one's creation time."""

    channel: str
    count: int
    since: datetime


def parked_notifications(session: Session) -> list[ParkedLine]:
    """Per channel, the notifications that used their retry budget and wait for the channel to accept a
    message again (``dead`` rows of older versions count: the dispatcher parks them)."""
    rows = session.execute(
        select(Notification.channel, func.count(), func.min(Notification.created_at))
        .where(Notification.status.in_(("parked", "dead")))
        .group_by(Notification.channel)
        .order_by(Notification.channel)
    ).all()
    return [ParkedLine(ch, n, since) for ch, n, since in rows]
