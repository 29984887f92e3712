"""Per-brand mention totals kept by triggers (migration 0018, issue 13): the API's mention list filtered by
brand alone reads its ``total`` from ``mention_totals`` instead of counting the brand's mentions. The kept
totals must equal a count of the mentions after inserts (repeats ignored), renamed brands and deletes, and
after the upgrade fills them from mentions stored before it; on real SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, inspect, select, update

from jingshao.storage.db import migrate, open_database
from jingshao.storage.models import Mention, MentionTotal
from jingshao.storage.queries import web as wq
from jingshao.storage.repository import insert_mentions

BRANDS = ("蜜橙", "小橙", "橙子 Orange")
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _rows(rng: random.Random, n: int, tag: str) -> list[dict]:
    return [
        {
            "brand": rng.choice(BRANDS),
            "source": rng.choice(("某论坛", "人民网")),
            "authority": rng.choice((1, 2, 3)),
            "url": f"https://example.test/{tag}/{i}",
            "url_key": f"{tag}-{i}",
            "content_key": f"c-{tag}-{i}",
            "title": None,
            "text": f"提到了 {tag} {i}",
            "posted_at": None if rng.random() < 0.1 else NOW - timedelta(minutes=rng.randrange(0, 9000)),
            "label": rng.choice(("neg", "pos", None)),
        }
        for i in range(n)
    ]


def _kept(db) -> dict[str, int]:
    with db.session() as s:
        return {b: n for b, n in s.execute(select(MentionTotal.brand, MentionTotal.mentions)) if n}


def _counted(db) -> dict[str, int]:
    with db.session() as s:
        return dict(s.execute(select(Mention.brand, func.count()).group_by(Mention.brand)).all())


def test_triggers_keep_each_brands_total(database_url):
    rng = random.Random(13)
    db = open_database(database_url)
    rows = _rows(rng, 300, "a")
    with db.session() as s:
        insert_mentions(s, rows)
    with db.session() as s:  # a re-crawl: the same mentions again are ignored, new ones counted
        insert_mentions(s, rows[:50] + _rows(rng, 40, "b"))
    assert _kept(db) == _counted(db)
    with db.session() as s:
        ids = list(s.scalars(select(Mention.id).order_by(Mention.id)))
        chosen = rng.sample(ids, 60)
        s.execute(update(Mention).where(Mention.id.in_(chosen[:20])).values(brand="新品牌"))
        s.execute(update(Mention).where(Mention.id.in_(chosen[20:30])).values(label="neg", posted_at=None))
        s.execute(delete(Mention).where(Mention.id.in_(chosen[30:])))
    assert _kept(db) == _counted(db)
    assert _kept(db)["新品牌"] == 20
    db.dispose()


def test_the_api_total_is_the_brands_count(database_url):
    rng = random.Random(7)
    db = open_database(database_url)
    with db.session() as s:
        insert_mentions(s, _rows(rng, 120, "a"))
    counted = _counted(db)
    with db.session() as s:
        for brand in (*BRANDS, "没有的品牌"):
            for offset in (0, 10, 500):  # a page past the end reads the total on its own
                page = wq.mentions(s, brand=brand, limit=10, offset=offset)
                assert page.total == counted.get(brand, 0), (brand, offset)
            # another filter beside the brand: counted from the rows, as before
            assert wq.mentions(s, brand=brand, label="neg").total == s.scalar(
                select(func.count()).where(Mention.brand == brand, Mention.label == "neg")
            )
        assert wq.mentions(s).total == sum(counted.values())
    db.dispose()


def test_the_upgrade_fills_the_totals_from_stored_mentions(database_url):
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from jingshao.storage.db import MIGRATIONS

    rng = random.Random(18)
    db = open_database(database_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:  # an existing database from before the totals
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0017")
    assert "mention_totals" not in inspect(db.engine).get_table_names()
    with db.session() as s:
        insert_mentions(s, _rows(rng, 200, "old"))
    migrate(db.engine)
    assert _kept(db) == _counted(db)
    with db.session() as s:
        insert_mentions(s, _rows(rng, 30, "new"))
    assert _kept(db) == _counted(db)
    db.dispose()
