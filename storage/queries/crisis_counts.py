"""Hourly mention and negative counts of a brand for the crisis rules, from ``mention_counts``.

The rules count whole hours that end at ``now`` (bucket ``k`` is ``(now - (k+1)h, now - k h]``), not
clock hours, and ``now`` is any instant. ``mention_counts`` holds per-minute counts (kept by triggers on
``mentions``, see migration 0014), so one evaluation:

1. sums the minutes in SQL, grouped by the bucket each minute falls in: every minute lies inside one
   bucket except the minute each bucket edge ``now - k h`` falls in (the edges share ``now``'s second
   within the minute, so they are the minutes ``m0 - 60 k``, with ``m0`` the minute of ``now``);
2. splits each of those edge minutes exactly: the mentions of the minute posted at or before the edge
   are counted from ``mentions`` (a count in SQL over the index on ``(brand, posted_at)``; only for
   edge minutes that have mentions at all), the rest of the minute belongs to the next bucket.

That is O(hours of the horizon) rows back to Python whatever the brand's volume, and the counts equal
what bucketing every mention would give (``tests/test_crisis_counts.py`` checks both on random data).
A mention whose time could not be read (``posted_at`` NULL) is in no minute and no bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, case, func, literal, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from jingshao.storage.models import Mention, MentionCount

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
NEGATIVE = "neg"  # the mention model's label for a negative mention (what the triggers count)


@dataclass(frozen=True)
class HourlyCounts:
    """Mentions and negatives per hour bucket ending at ``now``; index 0 is ``(now - 1h, now]``."""

    mentions: tuple[int, ...]
    negatives: tuple[int, ...]


def minute_of(at: datetime) -> int:
    """Minutes since 1970-01-01 UTC, floored (the key of ``mention_counts``)."""
    return (at - EPOCH) // MINUTE


def hourly_counts(session: Session, brand: str, now: datetime, hours: int) -> HourlyCounts:
    """Per-hour counts of ``brand``'s mentions posted in ``(now - hours h, now]``, newest bucket first."""
    if hours < 1:
        raise ValueError(f"hourly_counts needs at least one hour, got {hours!r}")
    m0 = minute_of(now)
    mentions, negatives = [0] * hours, [0] * hours
    counts = MentionCount.__table__.c
    back = literal(m0, BigInteger) - counts.minute  # minutes before now's minute (0 .. 60 * hours)
    edge = case((back % 60 == 0, 1), else_=0)
    rows = session.execute(
        select((back // 60).label("k"), edge.label("edge"), func.sum(counts.mentions), func.sum(counts.negatives))
        .where(counts.brand == brand, counts.minute >= m0 - 60 * hours, counts.minute <= m0)
        .group_by("k", "edge")  # by label: PostgreSQL sees two renderings of one expression as different
    ).all()
    edges: dict[int, tuple[int, int]] = {}
    for k, is_edge, n, neg in rows:
        k, n, neg = int(k), int(n or 0), int(neg or 0)
        if is_edge:
            edges[k] = (n, neg)
        elif 0 <= k < hours:
            mentions[k] += n
            negatives[k] += neg
    heads = _edge_heads(session, brand, now, [k for k, (n, _) in edges.items() if n])
    for k, (n, neg) in edges.items():
        head_n, head_neg = heads.get(k, (0, 0))
        if k < hours:  # posted in the edge minute at or before now - k h: bucket k
            mentions[k] += head_n
            negatives[k] += head_neg
        if k >= 1:  # after it: bucket k - 1 (for k = 0 that is after now, not counted)
            mentions[k - 1] += n - head_n
            negatives[k - 1] += neg - head_neg
    return HourlyCounts(tuple(mentions), tuple(negatives))


def _time_literal(at: datetime, dialect: str) -> str:
    """A UTC time as an SQL literal in the form the ``UTCDateTime`` column stores and compares."""
    utc = at.astimezone(UTC)
    if dialect == "sqlite":  # the text SQLAlchemy's SQLite DateTime writes, so text order is time order
        return "'" + utc.replace(tzinfo=None).isoformat(" ", "microseconds") + "'"
    return f"CAST('{utc.isoformat()}' AS TIMESTAMP WITH TIME ZONE)"


def _edge_heads(session: Session, brand: str, now: datetime, ks: list[int]) -> dict[int, tuple[int, int]]:
    """Per edge ``k``: mentions (and negatives) posted from the start of its minute up to ``now - k h``.

    The edges are written into the SQL as literals (times this function computed, ints): built with
    ``values()`` or ~600 bound parameters, SQLAlchemy's compile and cache-key work for this one
    statement cost ten times the query itself."""
    if not ks:
        return {}
    dialect = session.get_bind().dialect.name
    minute_start = EPOCH + minute_of(now) * MINUTE
    edges = ", ".join(
        f"({int(k)}, {_time_literal(minute_start - k * HOUR, dialect)}, {_time_literal(now - k * HOUR, dialect)})"
        for k in sorted(ks)
    )
    m = Mention.__tablename__
    statement = sql_text(
        f"WITH edges (k, lo, hi) AS (VALUES {edges}) "
        f"SELECT edges.k, count(*), sum(CASE WHEN {m}.label = :negative THEN 1 ELSE 0 END) "
        f"FROM edges JOIN {m} ON {m}.brand = :brand AND {m}.posted_at >= edges.lo AND {m}.posted_at <= edges.hi "
        "GROUP BY edges.k"
    )
    rows = session.execute(statement, {"negative": NEGATIVE, "brand": brand})
    return {int(k): (int(n), int(neg or 0)) for k, n, neg in rows}
