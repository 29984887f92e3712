"""Incremental crisis evaluation (issue 15): per-minute counts kept by triggers on ``mentions`` give the
rules exactly what reading every mention of the horizon gives.

Random mentions of several brands (late and backdated posts, posts after ``now``, times exactly on hour
and minute edges, unreadable times), then re-scored, moved, re-branded and deleted ones; evaluated at
random instants (microseconds, exact minutes, exact hours) with default and unusual thresholds, on real
SQLite and PostgreSQL. The counts path and the full-read path must agree bucket by bucket and on every
alert instance; the backtest gives the same events either way.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import delete, func, inspect, select, update

from jingshao.alerts import facts
from jingshao.alerts.backtest import backtest
from jingshao.alerts.rules.crisis import CrisisHistory, CrisisThresholds, crisis_stats, evaluate_crisis
from jingshao.alerts.settings import AlertsConfig
from jingshao.crawlers.config import BrandConfig
from jingshao.storage.db import MIGRATIONS, migrate, open_database
from jingshao.storage.models import Mention, MentionCount
from jingshao.storage.queries import crisis_counts
from jingshao.storage.queries.analyze import update_mention_scores
from jingshao.storage.repository import insert_mentions

NOW = datetime(2026, 11, 20, 14, 37, 21, 654321, tzinfo=UTC)
BRANDS = ("蜜橙", "小橙", "橙子 Orange")
TEXTS = ("客服态度很差，要去消协投诉", "召回了吗？假货", "还不错", "物流很快", "3150mAh 充电宝", "一般般")
THRESHOLDS = (
    CrisisThresholds(),
    # quiet-brand thresholds, so that every rule can fire on a few dozen mentions an hour
    CrisisThresholds(
        red_min_negatives=6,
        red_growth_min_negatives=8,
        yellow_min_negatives=4,
        yellow_share_min_mentions=5,
        blue_min_negatives=2,
        blue_share_min_mentions=4,
        strongly_negative_prob=0.6,
    ),
    CrisisThresholds(baseline_hours=48, event_hours=3, red_growth_hours=100, blue_share_hours=30, std_floor=0.5),
)


def _edgy_time(rng: random.Random, base: datetime) -> datetime | None:
    """A posted_at: mostly spread over 9 days, often exactly on an edge the rules or the counts cut at."""
    roll = rng.random()
    if roll < 0.05:
        return None  # the source's time could not be read
    k = rng.randrange(0, 200)
    if roll < 0.15:
        return base - k * timedelta(hours=1)  # exactly on a bucket edge
    if roll < 0.22:
        return base - k * timedelta(hours=1) + rng.choice((1, -1)) * timedelta(microseconds=1)
    if roll < 0.30:
        minute = base.replace(second=0, microsecond=0) - k * timedelta(hours=1)
        return minute + rng.choice((timedelta(0), timedelta(seconds=59, microseconds=999_999)))
    if roll < 0.35:
        return base + timedelta(seconds=rng.uniform(0, 7200))  # after now: seen by later evaluations only
    return base - timedelta(seconds=rng.uniform(0, 9 * 24 * 3600))


def _rows(rng: random.Random, n: int, tag: str) -> list[dict]:
    rows = []
    for i in range(n):
        brand = rng.choice(BRANDS)
        label = rng.choice(("neg", "neg", "pos", "neu", None))
        p_neg = rng.random()
        key = f"{tag}-{i}-{rng.random()}"
        rows.append(
            {
                "brand": brand,
                "source": rng.choice(("某论坛", "人民网", "行业媒体")),
                "authority": rng.choice((1, 1, 1, 2, 3)),
                "url": f"https://example.test/{key}",
                "url_key": key[:64],
                "content_key": ("c" + key)[:64],
                "title": rng.choice(TEXTS),
                "text": rng.choice(TEXTS) + f" #{i}",
                "posted_at": _edgy_time(rng, NOW),
                "sentiment": None if label is None else 1 - p_neg,
                "negative_prob": None if label is None else p_neg,
                "label": label,
            }
        )
    return rows


def _moments(rng: random.Random) -> list[datetime]:
    exact_minute = NOW.replace(second=0, microsecond=0)
    return [
        NOW,
        exact_minute,
        NOW.replace(minute=0, second=0, microsecond=0),
        exact_minute + timedelta(seconds=59, microseconds=999_999),
        NOW + timedelta(minutes=47, seconds=3),
        *(NOW + timedelta(seconds=rng.uniform(-3 * 24 * 3600, 3600)) for _ in range(4)),
    ]


def _stored_counts(db) -> dict:
    with db.session() as s:
        rows = s.execute(select(MentionCount.brand, MentionCount.minute, MentionCount.mentions, MentionCount.negatives))
        return {(brand, minute): (n, neg) for brand, minute, n, neg in rows if (n, neg) != (0, 0)}


def _expected_counts(db) -> dict:
    out: dict = {}
    with db.session() as s:
        for brand, at, label in s.execute(select(Mention.brand, Mention.posted_at, Mention.label)):
            if at is None:
                continue
            n, neg = out.get((brand, crisis_counts.minute_of(at)), (0, 0))
            out[(brand, crisis_counts.minute_of(at))] = (n + 1, neg + (label == "neg"))
    return out


def _assert_same(db, rng: random.Random) -> int:
    """Both paths at every moment, brand and threshold set; returns how many alert instances fired."""
    fired = 0
    with db.session() as s:
        for now in _moments(rng):
            for brand in BRANDS:
                for t in THRESHOLDS:
                    full = facts.brand_mentions(s, brand, now, t)
                    negatives, counts = facts.crisis_inputs(s, brand, now, t)
                    a, b = crisis_stats(full, now, t), crisis_stats(negatives, now, t, counts)
                    assert list(a.mentions) == list(counts.mentions), (brand, now)
                    assert list(a.negatives) == list(counts.negatives), (brand, now)
                    for name in ("baseline_mean", "baseline_std", "sigma", "authority_negatives"):
                        assert getattr(a, name) == getattr(b, name), (name, brand, now)
                    assert (a.crisis_word_mentions, a.top_negatives) == (b.crisis_word_mentions, b.top_negatives)
                    assert facts.negatives_last_hour(full, now) == facts.negatives_last_hour(negatives, now)
                    for history in (
                        None,
                        CrisisHistory("yellow", now - timedelta(hours=3), previous_negatives_1h=0),
                        CrisisHistory("blue", now - timedelta(hours=7)),
                    ):
                        expected = evaluate_crisis(brand, full, now, t, history)
                        assert evaluate_crisis(brand, negatives, now, t, history, counts) == expected
                        fired += len(expected)
    return fired


def test_counts_path_equals_the_full_read(database_url):
    rng = random.Random(15)
    db = open_database(database_url)
    with db.session() as s:
        insert_mentions(s, _rows(rng, 900, "a"))
    with db.session() as s:  # late and backdated posts arrive in a later crawl
        insert_mentions(s, _rows(rng, 300, "late"))
    assert _stored_counts(db) == _expected_counts(db)
    fired = _assert_same(db, rng)

    with db.session() as s:  # a re-score (what `jingshao analyze --rescore` writes), labels flip
        ids = list(s.scalars(select(Mention.id).order_by(Mention.id)))
        chosen = rng.sample(ids, 250)
        update_mention_scores(
            s, [(i, {"label": rng.choice(("neg", "pos", "neu")), "negative_prob": rng.random()}) for i in chosen]
        )
        # a time read again (an unreadable one becomes readable and back), a brand renamed, deletes
        s.execute(update(Mention).where(Mention.id.in_(chosen[:20])).values(posted_at=NOW - timedelta(hours=5)))
        s.execute(update(Mention).where(Mention.id.in_(chosen[20:30])).values(posted_at=None))
        s.execute(update(Mention).where(Mention.id.in_(chosen[30:40])).values(brand=BRANDS[0]))
        s.execute(delete(Mention).where(Mention.id.in_(chosen[40:80])))
        s.execute(update(Mention).where(Mention.id.in_(chosen[80:90])).values(sentiment=0.3))  # no count moves
    assert _stored_counts(db) == _expected_counts(db)
    fired += _assert_same(db, rng)
    assert fired > 50, "the random data should make the rules fire often enough to compare alerts"
    db.dispose()


def _downgrade(engine, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_migration_fills_the_counts_from_stored_mentions(database_url):
    rng = random.Random(14)
    db = open_database(database_url)
    with db.session() as s:
        insert_mentions(s, _rows(rng, 300, "kept"))
    _downgrade(db.engine, "0013")  # an existing database from before the counts
    assert "mention_counts" not in inspect(db.engine).get_table_names()
    with db.session() as s:
        insert_mentions(s, _rows(rng, 300, "old"))
    expected = _expected_counts(db)
    migrate(db.engine)  # the upgrade fills them from the mentions, then the triggers keep them
    assert _stored_counts(db) == expected
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MentionCount)) == len(expected)
        insert_mentions(s, _rows(rng, 50, "new"))
    assert _stored_counts(db) == _expected_counts(db)
    db.dispose()


def test_backtest_gives_the_same_alerts(database_url, monkeypatch):
    """The backtest (the engine and its state machine at every step) with the counts and with the full read."""
    rng = random.Random(5)
    db = open_database(database_url)
    rows = _rows(rng, 1500, "bt")
    for r in rows[:400]:  # a burst in the last hours so that alerts open, escalate and resolve
        r["posted_at"] = NOW - timedelta(seconds=rng.uniform(0, 4 * 3600))
        r["label"] = "neg"
    with db.session() as s:
        insert_mentions(s, rows)
    brands = [BrandConfig(name=b) for b in BRANDS]
    config = AlertsConfig()
    start, end = NOW - timedelta(hours=6), NOW + timedelta(hours=30)
    with_counts = backtest(config, db, start, end, "13m", brands=brands, competitors=False)

    def full_read(session, brand, now, thresholds):
        return facts.brand_mentions(session, brand, now, thresholds), None

    monkeypatch.setattr(facts, "crisis_inputs", full_read)
    reference = backtest(config, db, start, end, "13m", brands=brands, competitors=False)
    assert with_counts == reference
    assert {e.transition for e in reference} >= {"opened", "escalated", "resolved"}, {e.transition for e in reference}
    db.dispose()


@pytest.mark.parametrize("hours", [0, -1])
def test_hourly_counts_needs_an_hour(database_url, hours):
    db = open_database(database_url)
    with db.session() as s, pytest.raises(ValueError, match="at least one hour"):
        crisis_counts.hourly_counts(s, "蜜橙", NOW, hours)
    db.dispose()
