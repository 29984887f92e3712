"""品牌舆情's blue / yellow / red bands are the crisis rule's own: its 168-hour baseline, not the 48
hours the chart shows. Checked against the rule itself (alerts/rules/crisis.py) on real mentions in
SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from jingshao.alerts.facts import brand_mentions
from jingshao.alerts.rules.crisis import crisis_stats
from jingshao.config import parse_config
from jingshao.storage.db import open_database
from jingshao.storage.models import Mention
from jingshao.web.pages import _bands

NOW = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


def test_bands_use_the_rules_168_hour_baseline(database_url):
    cfg = parse_config({"database": {"url": database_url}, "brands": [{"name": "蜜橙"}]}, "test.toml")
    db = open_database(database_url)
    rng = random.Random(5)
    rows = []
    # A loud week that went quiet two days ago: the last 48 hours alone would give a far lower baseline.
    for i in range(1200):
        hours = rng.uniform(0, 170)
        neg = rng.random() < (0.6 if hours > 48 else 0.05)
        rows.append(
            {
                "brand": "蜜橙",
                "source": "论坛",
                "authority": 1,
                "url": f"https://forum.example.com/{i}",
                "url_key": f"u{i}",
                "content_key": f"c{i}",
                "text": "投诉" if neg else "还行",
                "posted_at": NOW - timedelta(hours=hours),
                "label": "neg" if neg else "pos",
                "first_seen_at": NOW,
            }
        )
    rows.append(
        {**rows[0], "url_key": "edge", "content_key": "edge", "label": "neg", "posted_at": NOW - timedelta(hours=1)}
    )
    try:
        with db.session() as s:
            s.execute(insert(Mention), rows)
        t = cfg.alerts.crisis_thresholds(cfg.brands[0])
        with db.session() as s:
            bands = _bands(cfg, s, "蜜橙", NOW)
            stats = crisis_stats(brand_mentions(s, "蜜橙", NOW, t), NOW, t)
        assert bands.baseline_hours == t.baseline_hours == 168
        assert abs(bands.mean - stats.baseline_mean) < 1e-9
        assert abs(bands.sigma - stats.sigma) < 1e-9
        want = {
            "blue": max(t.blue_min_negatives, stats.baseline_mean + t.blue_sigma * stats.sigma),
            "yellow": max(t.yellow_min_negatives, stats.baseline_mean + t.yellow_sigma * stats.sigma),
            "red": max(t.red_min_negatives, stats.baseline_mean + t.red_sigma * stats.sigma),
        }
        assert dict(bands.levels).keys() == want.keys()
        assert all(abs(dict(bands.levels)[k] - v) < 1e-9 for k, v in want.items())
        assert stats.baseline_mean > 2  # the loud week is in it (a 48-hour baseline would be near 0)
    finally:
        db.dispose()
